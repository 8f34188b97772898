"""The arrival-only replay with a batch policy: every pod placed once or failed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksched import solvers
from ksched.config import load_config
from ksched.solvers.replay import BatchArrivalReplay
from ksched.traces.synthetic import synthetic

PROFILE = Path(solvers.__file__).parent / "profiles" / "batch-gpushare.yaml"


@pytest.mark.parametrize(("window", "solver"), [(1, "greedy"), (25, "greedy"), (25, "cpsat")])
def test_batch_replay_accounts_for_every_pod(window: int, solver: str) -> None:
    wl = synthetic(n_nodes=15, n_pods=150, seed=2, gpu_nodes_only=True)
    replay = BatchArrivalReplay(
        wl,
        config=load_config(PROFILE),
        window=window,
        solver=solver,
        time_limit=0.2,
        seed=5,  # type: ignore[arg-type]
    )
    result = replay.run()
    pods = result.pods
    assert result.summary["pods_placed"] + result.summary["pods_failed"] == len(pods)
    assert result.summary["pods_pending_at_end"] == 0
    assert (pods["attempts"] == 1).all()
    assert len(result.series) == len(pods)
    assert result.meta["batch_window"] == window
    assert result.meta["batch_rejected_at_commit"] == 0
    assert sum(result.meta["batch_windows_by_status"].values()) == -(-len(pods) // window)
    assert len(replay.scheduler.bound) == result.summary["pods_placed"]


def test_window_must_be_positive() -> None:
    wl = synthetic(n_nodes=2, n_pods=2, seed=0)
    with pytest.raises(ValueError, match="'window' parameter of BatchArrivalReplay must be >= 1"):
        BatchArrivalReplay(wl, window=0)
