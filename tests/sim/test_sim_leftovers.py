"""Where an arrival replay's unallocated GPU sits, and whose GPU demand failed."""

from __future__ import annotations

from pathlib import Path

import pytest
from _simdata import nodes, pods, workload

from ksched.experiments import resolve_policy
from ksched.sim import ArrivalReplay
from ksched.sim.leftovers import LEFTOVER_KEYS
from ksched.traces import Workload, synthetic

FGD = Path(__file__).resolve().parents[2] / "paper" / "profiles" / "fgd.yaml"


def _fgd_replay(wl: Workload, **options: object) -> dict[str, float]:
    config, conversion, _ = resolve_policy(str(FGD)).bind(wl)
    result = ArrivalReplay(wl, config=config, conversion=conversion, **options).run()  # type: ignore[arg-type]
    return {k: float(v) for k, v in result.summary.items() if isinstance(v, int | float)}


def test_a_share_pod_on_its_own_card_leaves_the_rest_of_that_card() -> None:
    # One node of two cards: a 1-GPU pod, then a 300-milli share, then a 1-GPU pod that no
    # longer fits (the share took the other card), then a share that does not fit either.
    wl = workload(
        nodes([32_000], gpus=[2]),
        pods([1000] * 4, num_gpu=[1, 1, 1, 1], gpu_milli=[1000, 300, 1000, 800]),
    )
    s = _fgd_replay(wl, tune=0, shuffle=False)
    assert s["pods_failed"] == 2
    assert s["gpu_alloc_pct_final"] == pytest.approx(65.0)
    assert s["gpu_left_idle_pct"] == s["gpu_left_idle_stranded_pct"] == 0.0
    assert s["gpu_left_share_pct"] == pytest.approx(35.0)  # 700 of 2,000 milli
    assert s["gpu_failed_whole_pct"] == pytest.approx(50.0)
    assert s["gpu_failed_share_pct"] == pytest.approx(40.0)


def test_idle_cards_on_a_node_without_cpu_for_any_gpu_pod_are_stranded() -> None:
    # n0's CPU goes to a CPU-only pod first, so its card stays idle; n1's card is taken.
    wl = workload(
        nodes([4000, 4000], gpus=[1, 1], names=["a", "b"]),
        pods([4000, 2000, 2000], num_gpu=[0, 1, 1], gpu_milli=[0, 1000, 1000]),
    )
    s = _fgd_replay(wl, tune=0, shuffle=False)
    assert s["pods_placed"] == 2 and s["pods_failed"] == 1
    assert s["gpu_left_idle_stranded_pct"] == pytest.approx(50.0)
    assert s["gpu_left_idle_pct"] == 0.0
    assert s["gpu_failed_whole_pct"] == pytest.approx(50.0)


@pytest.mark.parametrize("largest_first", [False, True], ids=["arrival", "largest-first"])
def test_the_leftovers_and_the_allocation_add_up_to_the_cluster(largest_first: bool) -> None:
    wl = synthetic(n_nodes=25, n_pods=300, seed=5, gpu_nodes_only=True)
    s = _fgd_replay(wl, seed=3, largest_first=largest_first)
    left = sum(s[k] for k in LEFTOVER_KEYS if k.startswith("gpu_left_"))
    assert left + s["gpu_alloc_pct_final"] == pytest.approx(100.0)
    assert all(s[k] >= 0 for k in LEFTOVER_KEYS)
    # Tuned to 130% of GPU capacity, the failed pods asked for at least the 30% in excess.
    failed = s["gpu_failed_whole_pct"] + s["gpu_failed_share_pct"]
    assert failed >= 30.0 - 1.5


def test_without_per_card_state_the_leftover_is_counted_as_whole_cards_first() -> None:
    # The default profile keeps no per-card layout: shares are packed onto whole GPUs.
    wl = workload(nodes([32_000], gpus=[2]), pods([1000], num_gpu=[1], gpu_milli=[500]))
    result = ArrivalReplay(wl, tune=0, shuffle=False).run()
    s = result.summary
    assert s["gpu_left_idle_pct"] == pytest.approx(50.0)
    assert s["gpu_left_share_pct"] == pytest.approx(25.0)
