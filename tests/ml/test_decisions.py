"""Decision logs: one row per decision, the chosen node among its candidates, outcomes right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ksched.ml.decisions import DecisionLog, DecisionRecorder, read_logs
from ksched.ml.features import FEATURE_NAMES
from ksched.sim import TargetWorkload
from ksched.traces.workload import Workload


def test_log_matches_the_replay(logs: list[Path]) -> None:
    log = DecisionLog.from_dir(logs[0])
    d, c = log.decisions, log.candidates
    assert d["decision"].tolist() == list(range(len(d)))
    assert d["placed"].sum() > 0 and (~d["placed"]).sum() > 0  # tune 1.0 on a small cluster
    chosen = c[c["chosen"]]
    # Every placed decision kept its chosen node, exactly once, under the right name.
    assert chosen["decision"].tolist() == d.loc[d["placed"], "decision"].tolist()
    merged = chosen.merge(d, on="decision", suffixes=("", "_outcome"))
    assert (merged["node"] == merged["chosen_node"]).all()
    # The logged fragmentation change is the chosen candidate's would-be change.
    np.testing.assert_array_equal(merged["frag_delta_outcome"], merged["frag_delta"])
    assert (c.groupby("decision").size() <= 8).all()
    assert list(c.columns[3 : 3 + len(FEATURE_NAMES)]) == list(FEATURE_NAMES)
    assert any(col.startswith("score:") for col in c.columns)
    assert np.isfinite(merged["frag_delta"]).all()


def test_later_failures_is_a_windowed_count(logs: list[Path]) -> None:
    d = DecisionLog.from_dir(logs[0]).decisions
    failed = (~d["placed"]).to_numpy().astype(int)
    window = 100
    expected = [failed[i + 1 : i + 1 + window].sum() for i in range(len(failed))]
    assert d["later_failures"].tolist() == expected


def test_read_logs_renumbers(logs: list[Path]) -> None:
    both = read_logs(logs)
    assert both.decisions["decision"].is_unique
    assert set(both.decisions["group"]) == {"s1", "s2"}
    assert set(both.candidates["decision"]) <= set(both.decisions["decision"])


def test_every_nth_decision_observed(workload: Workload) -> None:
    from ksched.sim import ArrivalReplay

    rec = DecisionRecorder(TargetWorkload.from_pods(workload.pods), every=3, group="g")
    result = ArrivalReplay(workload, seed=0, tune=0.5, recorder=rec).run()
    log = rec.finish(result)
    assert len(log.decisions) == int(result.summary["pods_arrived"])
    observed = log.decisions["observed"].to_numpy()
    assert observed.tolist() == [i % 3 == 0 for i in range(len(observed))]
    assert set(log.candidates["decision"]) <= set(np.flatnonzero(observed))


def test_time_replay_logs_completion_times(workload: Workload) -> None:
    from ksched.sim import TimeReplay

    rec = DecisionRecorder(TargetWorkload.from_pods(workload.pods), group="t")
    result = TimeReplay(workload, seed=0, recorder=rec).run()
    log = rec.finish(result)
    placed = log.decisions[log.decisions["placed"]]
    pods = result.pods.set_index("name")
    jct = (pods["finish_time"] - pods["arrival_time"]).reindex(placed["pod"]).to_numpy()
    np.testing.assert_array_equal(placed["completion_time"].to_numpy(), jct)
    assert np.isfinite(placed["completion_time"]).any()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_candidates": 0}, "max_candidates"), ({"every": 0}, "The 'every' parameter")],
    ids=["cands", "every"],
)
def test_bad_parameters(workload: Workload, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DecisionRecorder(TargetWorkload.from_pods(workload.pods), **kwargs)  # type: ignore[arg-type]


def test_missing_file(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "decisions.parquet")
    with pytest.raises(FileNotFoundError, match=r"candidates\.parquet is missing"):
        DecisionLog.from_dir(tmp_path)
