"""One cell: the shape of its curves, determinism per seed, the record's round trip."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest

from ksched.experiments import (
    ARRIVED_MAX,
    Cell,
    CellRecord,
    Policy,
    load_workload,
    resolve_policy,
    run_cell,
    workload_name,
)
from ksched.sim.runner import PROFILES_DIR


@pytest.fixture(scope="module")
def record(tiny_trace: Path) -> CellRecord:
    return run_cell(Cell("default", "most-allocated", 42), resolve_policy("most-allocated"),
                    trace_dir=str(tiny_trace))  # fmt: skip


def test_curves_cover_every_arrived_percent(record: CellRecord) -> None:
    curves = record.curves
    assert set(curves) == {"arrived", "alloc", "frag", "frag_ratio"}
    assert curves["arrived"] == [float(i) for i in range(ARRIVED_MAX + 1)]
    for name in ("alloc", "frag", "frag_ratio"):
        assert len(curves[name]) == ARRIVED_MAX + 1
        values = [v for v in curves[name] if v is not None]
        assert values, name
        assert all(-1e-6 <= v <= 100.0 + 1e-6 for v in values), name  # running float sums
    # 40 nodes x 8 GPUs: no pod moves the arrived share by a whole percent, so none is skipped.
    assert all(v is not None for v in curves["alloc"])
    assert math.isfinite(record.value_at("alloc"))


def test_allocation_never_falls_as_pods_arrive(record: CellRecord) -> None:
    alloc = [v for v in record.curves["alloc"] if v is not None]
    assert all(b >= a for a, b in itertools.pairwise(alloc))
    # Nothing is placed before the first pod arrives; the cluster is far from empty at the end.
    assert alloc[-1] > alloc[0]


def test_allocation_at_the_end_matches_the_summary(record: CellRecord) -> None:
    # The last records round to 130%: their mean is at most the final allocation.
    assert record.value_at("alloc") <= float(record.summary["gpu_alloc_pct_final"]) + 1e-9
    assert (
        record.summary["pods_placed"] + record.summary["pods_failed"]
        == record.summary["pods_total"]
    )


def test_cell_is_deterministic_per_seed(tiny_trace: Path, record: CellRecord) -> None:
    policy = resolve_policy("most-allocated")
    again = run_cell(Cell("default", "most-allocated", 42), policy, trace_dir=str(tiny_trace))
    assert again.outcome() == record.outcome()
    other = run_cell(Cell("default", "most-allocated", 43), policy, trace_dir=str(tiny_trace))
    assert other.curves["alloc"] != record.curves["alloc"]


def test_timings_are_kept_apart_from_the_outcome(record: CellRecord) -> None:
    assert record.timing["wall_seconds"] > 0
    assert "wall_seconds" not in record.summary
    assert "timing" not in record.outcome()


def test_record_round_trips_through_json(record: CellRecord) -> None:
    back = CellRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert back.to_json() == record.to_json()


def test_record_names_the_cluster_and_policy(record: CellRecord) -> None:
    assert record.meta["cluster_nodes"] == 40
    assert record.meta["cluster_gpus"] == 320
    assert record.policy_sha256 == resolve_policy("most-allocated").sha256
    assert record.cell.relpath() == Path(
        "cells/tune-1.3/smallest-name/default/most-allocated/seed-42.json"
    )


FGD_LIKE = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
  - schedulerName: x
    plugins:
      multiPoint:
        enabled:
          - name: OpenGpuShare
    pluginConfig:
      - name: SomePlugin
        args:
          targetPods: openb:default
          coverage: 0.5
"""


def test_binding_inlines_the_replayed_target_workload(tiny_trace: Path) -> None:
    from ksched.sim import TargetWorkload

    wl = load_workload("gpushare40", str(tiny_trace))
    config, conversion, inlined = Policy("x", FGD_LIKE).bind(wl)
    assert inlined
    assert not conversion.gpu_as_extended_resource
    assert not conversion.gpu_model_affinity
    args = config.profiles[0].plugin_config[0].args
    assert isinstance(args, dict)
    assert "targetPods" not in args
    target = TargetWorkload.from_pods(wl.pods, 0.5)
    assert len(args["targetShapes"]) == len(target)
    assert sum(s["weight"] for s in args["targetShapes"]) == pytest.approx(1.0)


def test_binding_leaves_other_profiles_alone(tiny_trace: Path) -> None:
    policy = resolve_policy("most-allocated")
    config, conversion, inlined = policy.bind(load_workload("default", str(tiny_trace)))
    assert not inlined
    assert conversion.gpu_as_extended_resource
    assert config == policy.config()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default", "default"),
        ("openb_pod_list_cpu050", "cpu050"),
        ("openb_pod_list_multigpu20.csv", "multigpu20"),
    ],
    ids=["short", "file-stem", "file-name"],
)
def test_workload_names(text: str, expected: str) -> None:
    assert workload_name(text) == expected


def test_unknown_workload_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown workload 'cpu999'.*cpu050"):
        workload_name("cpu999")


def test_policies_resolve_by_name_or_path(tmp_path: Path) -> None:
    assert resolve_policy("default").source == str(PROFILES_DIR / "default.yaml")
    own = tmp_path / "mine.yaml"
    own.write_text((PROFILES_DIR / "default.yaml").read_text())
    assert resolve_policy(str(own)).name == "mine"
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "default.yaml").write_text("# shadows the built-in\n")
    assert resolve_policy("default", [tmp_path / "dir"]).text == "# shadows the built-in\n"
    with pytest.raises(ValueError, match=r"unknown policy 'nope'.*known: .*most-allocated"):
        resolve_policy("nope")
    with pytest.raises(ValueError, match=r"policy file .*missing\.yaml not found"):
        resolve_policy(str(tmp_path / "missing.yaml"))


def test_a_cell_refuses_a_policy_of_another_name(tiny_trace: Path) -> None:
    with pytest.raises(ValueError, match="does not match cell"):
        run_cell(Cell("default", "fgd", 42), resolve_policy("default"), trace_dir=str(tiny_trace))
