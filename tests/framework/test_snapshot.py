"""The vectorised snapshot stays equal to a from-scratch recount after any sequence of changes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ksched.api import Node, Pod
from ksched.framework.pod_info import PodInfo
from ksched.framework.resources import CPU_COL, MEMORY_COL, PODS_COL
from ksched.framework.snapshot import ClusterSnapshot
from ksched.testing.scenarios import node_json, pod_json


def _node(i: int, **kw: object) -> Node:
    return Node.model_validate(node_json(f"n{i}", **kw))  # type: ignore[arg-type]


def _pod(name: str, **kw: object) -> PodInfo:
    return PodInfo.from_pod(Pod.model_validate(pod_json(name, **kw)))  # type: ignore[arg-type]


def _recount(snap: ClusterSnapshot) -> np.ndarray:
    out = np.zeros_like(snap.requested)
    for info in snap.nodes:
        for pod in info.pods.values():
            out[info.index] += snap.pod_vector(pod)
    return out


def test_add_and_remove_pod_update_rows_in_place() -> None:
    snap = ClusterSnapshot()
    for i in range(3):
        snap.add_node(_node(i, cpu="4", memory="8Gi"))
    pod = _pod("a", cpu="1500m", memory="1Gi")
    snap.add_pod(pod, "n1")
    assert snap.requested[1, CPU_COL] == 1500
    assert snap.requested[1, MEMORY_COL] == 1024**3
    assert snap.requested[1, PODS_COL] == 1
    assert snap.nodes[1].requested["cpu"] == 1500
    snap.remove_pod(pod)
    snap.remove_pod(pod)  # idempotent
    assert not snap.requested.any()


def test_request_less_pods_count_kube_scheduler_defaults_for_scoring() -> None:
    snap = ClusterSnapshot()
    snap.add_node(_node(0))
    snap.add_pod(_pod("be", cpu=None, memory=None), "n0")
    assert snap.requested[0, CPU_COL] == 0
    assert tuple(snap.non_zero_requested[0]) == (100, 200 * 1024 * 1024)


def test_extended_resource_adds_a_column_for_nodes_and_pods() -> None:
    snap = ClusterSnapshot()
    snap.add_node(_node(0, extended={"nvidia.com/gpu": "8"}))
    snap.add_node(_node(1))
    col = snap.resources.column("nvidia.com/gpu")
    assert snap.allocatable[:, col].tolist() == [8, 0]
    pod = _pod("g", extended={"example.com/fpga": "1"})
    snap.add_pod(pod, "n1")
    assert snap.requested[1, snap.resources.column("example.com/fpga")] == 1


def test_remove_node_keeps_rows_and_index_aligned() -> None:
    snap = ClusterSnapshot()
    for i in range(5):
        snap.add_node(_node(i, cpu=str(i + 1)))
    snap.add_pod(_pod("x"), "n3")
    pods = snap.remove_node("n1")
    assert pods == []
    assert snap.names == ["n0", "n2", "n3", "n4"]
    assert [snap.index[n] for n in snap.names] == [0, 1, 2, 3]
    assert snap.allocatable[:, CPU_COL].tolist() == [1000, 3000, 4000, 5000]
    assert snap.requested[2, PODS_COL] == 1
    assert snap.remove_node("n3")[0].name == "x"
    assert snap.node_of("default/x") is None


def test_label_codes_group_nodes_and_follow_updates() -> None:
    snap = ClusterSnapshot()
    for i in range(4):
        snap.add_node(_node(i, zone=f"z{i % 2}"))
    codes, values = snap.label_codes("topology.kubernetes.io/zone")
    assert [values[c] for c in codes] == ["z0", "z1", "z0", "z1"]
    snap.update_node(_node(0, zone="z9"))
    codes, values = snap.label_codes("topology.kubernetes.io/zone")
    assert values[codes[0]] == "z9"
    missing, _ = snap.label_codes("absent")
    assert missing.tolist() == [-1, -1, -1, -1]


ops = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "drop-node", "add-node"]), st.integers(0, 30)),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_arrays_match_a_recount_after_any_sequence(sequence: list[tuple[str, int]]) -> None:
    snap = ClusterSnapshot()
    for i in range(4):
        snap.add_node(_node(i, extended={"nvidia.com/gpu": "2"} if i % 2 else None))
    pods = {
        k: _pod(
            f"p{k}",
            priority=k % 3,
            cpu=f"{100 * (k % 5 + 1)}m",
            extended={"nvidia.com/gpu": "1"} if k % 7 == 0 else None,
        )
        for k in range(31)
    }
    next_node = 4
    for op, k in sequence:
        if op == "add" and snap.n and snap.node_of(pods[k].key) is None:
            snap.add_pod(pods[k], snap.nodes[k % snap.n].name)
        elif op == "remove":
            snap.remove_pod(pods[k])
        elif op == "drop-node" and snap.n:
            snap.remove_node(snap.nodes[k % snap.n].name)
        elif op == "add-node":
            snap.add_node(_node(next_node))
            next_node += 1
    assert np.array_equal(snap.requested, _recount(snap))
    assert [snap.index[info.name] for info in snap.nodes] == list(range(snap.n))
    lowest = [
        min((p.priority for p in info.pods.values()), default=2**63 - 1) for info in snap.nodes
    ]
    assert snap.min_pod_priority.tolist() == lowest
    nz_cpu = [sum(p.non_zero_cpu for p in info.pods.values()) for info in snap.nodes]
    assert snap.non_zero_requested[:, 0].tolist() == nz_cpu
    for position in range(snap.log_base, snap.log_position + 1):
        logged = snap.rows_changed_since(position)
        assert logged is not None
        assert snap.rows_stamped_since(position).tolist() == sorted(set(logged))


def test_a_full_change_log_drops_its_older_half_and_keeps_recent_positions_readable() -> None:
    snap = ClusterSnapshot()
    for i in range(2):
        snap.add_node(_node(i))
    cap = 4 * snap.n + 1024
    for k in range(cap):
        snap.add_pod(_pod(f"p{k}"), f"n{k % 2}")
    recent = snap.log_position
    snap.add_pod(_pod("last"), "n1")  # the log is full: the older half goes
    assert snap.rows_changed_since(0) is None  # forgotten: a cache reading it must rebuild
    assert snap.rows_changed_since(recent) == [1]
    assert snap.rows_changed_since(recent - 2) == [0, 1, 1]
    assert snap.rows_stamped_since(recent - 2).tolist() == [0, 1]
