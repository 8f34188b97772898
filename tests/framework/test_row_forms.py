"""The scalar row forms (``filter_row``, ``score_row``) answer exactly as the vectorised ones.

The runtime patches a cached pod class's verdicts on a few changed nodes
through the row forms, so any difference would change decisions.  Random
clusters and pods exercise every in-tree plugin that has them, in each
scoring strategy: resources that are absent, zero or over-requested, Go
integer division on odd amounts, float fractions of amounts beyond 2**53,
taints, cordons, labels, images and host ports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksched.framework.cycle_state import CycleState
from ksched.framework.plugins.registry import in_tree_registry
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeSet
from ksched.framework.status import Code
from ksched.testing.builders import make_node, make_pod

GPU = "example.com/gpu"
TAINTS = [
    "dedicated=gpu:NoSchedule",
    "flaky:PreferNoSchedule",
    "evict:NoExecute",
    "soft=a:PreferNoSchedule",
]
TOLERATIONS = [
    {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
    {"key": "flaky", "operator": "Exists"},
    {"operator": "Exists", "effect": "PreferNoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
IMAGES = ["nginx", "redis:7", "registry.k8s.io/pause:3.10"]
PREFERRED = [
    {
        "weight": 5,
        "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
    }
]

# (plugin name, args): every scoring strategy and resource list the row forms special-case.
SHAPE = [
    {"utilization": 0, "score": 0},
    {"utilization": 33, "score": 7},
    {"utilization": 100, "score": 10},
]
WITH_GPU = [
    {"name": "cpu", "weight": 2},
    {"name": "memory", "weight": 3},
    {"name": GPU, "weight": 5},
]
PLUGINS: list[tuple[str, dict[str, Any] | None]] = [
    ("NodeUnschedulable", None),
    ("NodeName", None),
    ("NodePorts", None),
    ("TaintToleration", None),
    ("ImageLocality", None),
    ("NodeAffinity", None),
    (
        "NodeAffinity",
        {
            "addedAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}
                    ]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": PREFERRED,
            }
        },
    ),
    ("NodeResourcesFit", None),
    ("NodeResourcesFit", {"scoringStrategy": {"type": "MostAllocated"}}),
    (
        "NodeResourcesFit",
        {
            "scoringStrategy": {
                "type": "LeastAllocated",
                "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}],
            }
        },
    ),
    ("NodeResourcesFit", {"scoringStrategy": {"type": "MostAllocated", "resources": WITH_GPU}}),
    (
        "NodeResourcesFit",
        {
            "scoringStrategy": {
                "type": "RequestedToCapacityRatio",
                "resources": WITH_GPU,
                "requestedToCapacityRatio": {"shape": SHAPE},
            }
        },
    ),
    ("NodeResourcesFit", {"ignoredResourceGroups": ["example.com"]}),
    ("NodeResourcesBalancedAllocation", None),
    ("NodeResourcesBalancedAllocation", {"resources": WITH_GPU}),
]

# Amounts: zero, small odd ones (Go division), and ones near 2**53 (float64 rounding of
# int64).  All stay where int64 arithmetic cannot wrap, as real quantities do.
amounts = st.one_of(
    st.just(0),
    st.integers(1, 64),
    st.integers(1, 10**6),
    st.integers(2**53 - 2**10, 2**53 + 2**10),
    st.integers(1, 2**50),
)


@st.composite
def resources(draw: st.DrawFn, node: bool) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ("cpu", "memory", "ephemeral-storage", GPU):
        if draw(st.booleans()) or (node and name in ("cpu", "memory")):
            amount = draw(amounts)
            out[name] = f"{amount}m" if name == "cpu" else str(amount)
    if node:
        out["pods"] = str(draw(st.integers(0, 4)))
    return out


@st.composite
def clusters(draw: st.DrawFn) -> tuple[ClusterSnapshot, PodInfo]:
    n = draw(st.integers(1, 6))
    nodes = []
    for i in range(n):
        nodes.append(
            make_node(
                f"node-{i}",
                allocatable=draw(resources(node=True)),
                taints=draw(st.lists(st.sampled_from(TAINTS), max_size=3)),
                labels=draw(st.sampled_from([{}, {"zone": "a"}, {"zone": "b"}])),
                images=[
                    (img, draw(st.integers(0, 2**31)))
                    for img in draw(st.sets(st.sampled_from(IMAGES)))
                ],
                unschedulable=draw(st.booleans()),
            )
        )
    snap = ClusterSnapshot()
    snap.add_nodes(nodes)
    for k in range(draw(st.integers(0, n))):
        bound = make_pod(
            f"bound-{k}",
            requests=draw(resources(node=False)),
            host_ports=draw(st.sets(st.sampled_from([80, 443]), max_size=1)),
        )
        snap.add_pod(PodInfo.from_pod(bound), f"node-{draw(st.integers(0, n - 1))}")
    pod = make_pod(
        "incoming",
        requests=draw(resources(node=False)),
        tolerations=draw(st.lists(st.sampled_from(TOLERATIONS), max_size=2)),
        node_name=draw(st.sampled_from(["", "node-0", "node-9"])),
        node_selector=draw(st.sampled_from([None, {"zone": "a"}])),
        host_ports=draw(st.sets(st.sampled_from([80, 8080]), max_size=1)),
        images=draw(st.lists(st.sampled_from(IMAGES), max_size=2)),
        affinity=draw(
            st.sampled_from(
                [
                    None,
                    {
                        "nodeAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": PREFERRED
                        }
                    },
                ]
            )
        ),
    )
    return snap, PodInfo.from_pod(pod)


def _plugin(name: str, args: dict[str, Any] | None) -> Any:
    spec = in_tree_registry()[name]
    assert args is None or spec.args_type is not None
    parsed = None if args is None or spec.args_type is None else spec.args_type.model_validate(args)
    return spec.factory(parsed, None)


def _prepared(plugin: Any, pod: PodInfo, snap: ClusterSnapshot) -> CycleState:
    """Cycle state as the runtime leaves it before Filter and Score."""
    state = CycleState()
    for point in ("pre_filter", "pre_score"):
        if hasattr(plugin, point):
            getattr(plugin, point)(state, pod, snap.all_nodes())
    return state


def _codes(out: Any) -> list[int]:
    arr = np.asarray(out)
    if arr.dtype == np.bool_:
        return [0 if ok else int(Code.UNSCHEDULABLE) for ok in arr.tolist()]
    return [int(c) for c in arr.tolist()]


@pytest.mark.parametrize(
    ("name", "args"), PLUGINS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(PLUGINS)]
)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster=clusters())
def test_row_forms_match_vectorised(
    name: str, args: dict[str, Any] | None, cluster: tuple[ClusterSnapshot, PodInfo]
) -> None:
    snap, pod = cluster
    plugin = _plugin(name, args)
    state = _prepared(plugin, pod, snap)
    rows = range(snap.n)
    if hasattr(plugin, "filter_row"):
        vector = _codes(plugin.filter_nodes(state, pod, snap.all_nodes()))
        scalar = [int(plugin.filter_row(state, pod, snap.nodes[r])) for r in rows]
        assert scalar == vector
    if hasattr(plugin, "score_row"):
        vector = np.asarray(plugin.score_nodes(state, pod, snap.all_nodes())).tolist()
        # One row at a time too: a shortcut taken for the whole window must not change a row.
        single = [
            int(plugin.score_nodes(state, pod, NodeSet(snap, slice(r, r + 1)))[0]) for r in rows
        ]
        scalar = [plugin.score_row(state, pod, snap.nodes[r]) for r in rows]
        assert all(type(v) is int for v in scalar)
        assert scalar == vector == single


def test_every_default_plain_pod_plugin_has_row_forms() -> None:
    """The plugins active for a plain pod in the default profile all take the row path."""
    filters = ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeResourcesFit"]
    scores = [
        "TaintToleration",
        "NodeResourcesFit",
        "NodeResourcesBalancedAllocation",
        "ImageLocality",
    ]
    assert all(hasattr(_plugin(n, None), "filter_row") for n in filters)
    assert all(hasattr(_plugin(n, None), "score_row") for n in scores)
