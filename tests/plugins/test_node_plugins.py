"""TaintToleration, NodeAffinity, NodePorts and ImageLocality against kube-scheduler's documented behaviour.

Every case also checks that the per-node and vectorised forms agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ksched.api import Node, Pod
from ksched.framework.cycle_state import CycleState
from ksched.framework.plugins import image_locality, node_affinity, node_ports, tainttoleration
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot
from ksched.framework.status import Code
from ksched.testing import node_json, pod_json


def _cluster(nodes: list[dict[str, Any]], bound: list[dict[str, Any]] = ()) -> ClusterSnapshot:  # type: ignore[assignment]
    snap = ClusterSnapshot()
    for n in nodes:
        snap.add_node(Node.model_validate(n))
    for p in bound:
        info = PodInfo.from_pod(Pod.model_validate(p))
        snap.add_pod(info, info.node_name)
    return snap


def _filter_codes(module: Any, snap: ClusterSnapshot, pod: dict[str, Any]) -> list[int]:
    plugin = module.new(None, None)
    info = PodInfo.from_pod(Pod.model_validate(pod))
    state = CycleState()
    if hasattr(plugin, "pre_filter"):
        _, status = plugin.pre_filter(state, info, snap.all_nodes())
        if status is not None and status.code == Code.SKIP:
            return [0] * snap.n
    scalar = [
        0 if (s := plugin.filter(state, info, n)) is None else int(s.code) for n in snap.nodes
    ]
    vector = np.asarray(plugin.filter_nodes(state, info, snap.all_nodes()))
    if vector.dtype == np.bool_:
        vector = np.where(vector, 0, int(Code.UNSCHEDULABLE))
    assert scalar == vector.tolist()
    return scalar


def _scores(module: Any, snap: ClusterSnapshot, pod: dict[str, Any]) -> list[int]:
    plugin = module.new(None, None)
    info = PodInfo.from_pod(Pod.model_validate(pod))
    state = CycleState()
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, info, snap.all_nodes())
        if status is not None and status.code == Code.SKIP:
            return []
    scalar = np.array([plugin.score(state, info, n) for n in snap.nodes], dtype=np.int64)
    vector = np.asarray(plugin.score_nodes(state, info, snap.all_nodes()))
    assert scalar.tolist() == vector.tolist()
    if hasattr(plugin, "normalize_score"):
        plugin.normalize_score(state, info, scalar)
    return scalar.tolist()


U, R = int(Code.UNSCHEDULABLE), int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
NO_SCHEDULE = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
NO_EXECUTE = {"key": "maintenance", "effect": "NoExecute"}
PREFER = {"key": "spot", "value": "true", "effect": "PreferNoSchedule"}


@pytest.mark.parametrize(
    ("tolerations", "expected"),
    [
        pytest.param([], [0, R, R, 0], id="no-tolerations"),
        pytest.param(
            [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
            [0, 0, R, 0],
            id="equal-matches-value-and-effect",
        ),
        pytest.param(
            [{"key": "dedicated", "operator": "Equal", "value": "cpu"}],
            [0, R, R, 0],
            id="wrong-value",
        ),
        pytest.param(
            [{"key": "dedicated", "operator": "Exists"}], [0, 0, R, 0], id="exists-any-value"
        ),
        pytest.param([{"operator": "Exists"}], [0, 0, 0, 0], id="empty-key-exists-tolerates-all"),
        pytest.param(
            [{"key": "maintenance", "operator": "Exists", "effect": "NoExecute"}],
            [0, R, R, 0],
            id="no-execute-alone-is-not-enough",
        ),
    ],
)
def test_taint_filter(tolerations: list[dict[str, str]], expected: list[int]) -> None:
    snap = _cluster(
        [
            node_json("clean"),
            node_json("gpu", taints=[NO_SCHEDULE]),
            node_json("draining", taints=[NO_EXECUTE, NO_SCHEDULE]),
            node_json("spot", taints=[PREFER]),
        ]
    )
    assert _filter_codes(tainttoleration, snap, pod_json("p", tolerations=tolerations)) == expected


def test_taint_reason_names_the_taint() -> None:
    snap = _cluster([node_json("gpu", taints=[NO_SCHEDULE])])
    status = tainttoleration.new(None, None).filter(
        CycleState(), PodInfo.from_pod(Pod.model_validate(pod_json("p"))), snap.nodes[0]
    )
    assert status is not None and status.reasons == (
        "node(s) had untolerated taint {dedicated: gpu}",
    )


@pytest.mark.parametrize(
    ("tolerations", "expected"),
    [
        pytest.param([], [100, 67, 0], id="fewer-prefer-taints-score-higher"),
        pytest.param(
            [{"key": "spot", "operator": "Exists", "effect": "PreferNoSchedule"}],
            [100, 100, 0],
            id="tolerated",
        ),
    ],
)
def test_taint_score_prefers_fewer_untolerated(
    tolerations: list[dict[str, str]], expected: list[int]
) -> None:
    other = {"key": "old", "value": "x", "effect": "PreferNoSchedule"}
    snap = _cluster(
        [
            node_json("a"),
            node_json("b", taints=[PREFER]),
            node_json("c", taints=[PREFER, other, {**other, "key": "z"}]),
        ]
    )
    assert _scores(tainttoleration, snap, pod_json("p", tolerations=tolerations)) == expected


AFFINITY_NODES = [
    node_json("n1", labels={"disk": "ssd", "gen": "3"}, zone="a"),
    node_json("n2", labels={"disk": "hdd", "gen": "5"}, zone="b"),
    node_json("n3", labels={"gen": "x"}, zone="c"),
]


def _required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
        }
    }


def _expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({}, [0, 0, 0], id="nothing-required"),
        pytest.param({"nodeSelector": {"disk": "ssd"}}, [0, R, R], id="node-selector"),
        pytest.param(
            {"affinity": _required({"matchExpressions": [_expr("disk", "In", "ssd", "hdd")]})},
            [0, 0, R],
            id="in",
        ),
        pytest.param(
            {"affinity": _required({"matchExpressions": [_expr("disk", "NotIn", "ssd")]})},
            [R, 0, 0],
            id="notin-absent-matches",
        ),
        pytest.param(
            {"affinity": _required({"matchExpressions": [_expr("disk", "DoesNotExist")]})},
            [R, R, 0],
            id="does-not-exist",
        ),
        pytest.param(
            {"affinity": _required({"matchExpressions": [_expr("gen", "Gt", "4")]})},
            [R, 0, R],
            id="gt-non-numeric-fails",
        ),
        pytest.param(
            {"affinity": _required({"matchExpressions": [_expr("gen", "Lt", "4")]})},
            [0, R, R],
            id="lt",
        ),
        pytest.param(
            {
                "affinity": _required(
                    {"matchExpressions": [_expr("disk", "Exists"), _expr("gen", "Gt", "4")]}
                )
            },
            [R, 0, R],
            id="expressions-anded",
        ),
        pytest.param(
            {
                "affinity": _required(
                    {"matchExpressions": [_expr("disk", "In", "ssd")]},
                    {"matchExpressions": [_expr("gen", "In", "x")]},
                )
            },
            [0, R, 0],
            id="terms-ored",
        ),
        pytest.param({"affinity": _required({})}, [R, R, R], id="empty-term-matches-nothing"),
        pytest.param(
            {
                "nodeSelector": {"disk": "hdd"},
                "affinity": _required({"matchExpressions": [_expr("disk", "In", "ssd")]}),
            },
            [R, R, R],
            id="selector-and-affinity-both-required",
        ),
    ],
)
def test_node_affinity_filter(spec: dict[str, Any], expected: list[int]) -> None:
    assert _filter_codes(node_affinity, _cluster(AFFINITY_NODES), pod_json("p", **spec)) == expected


def test_match_fields_pin_becomes_a_prefilter_result() -> None:
    snap = _cluster(AFFINITY_NODES)
    pod = pod_json("p", affinity=_required({"matchFields": [_expr("metadata.name", "In", "n2")]}))
    result, status = node_affinity.new(None, None).pre_filter(
        CycleState(), PodInfo.from_pod(Pod.model_validate(pod)), snap.all_nodes()
    )
    assert status is None and result is not None and result.node_names == frozenset({"n2"})
    assert _filter_codes(node_affinity, snap, pod) == [R, 0, R]


def test_preferred_terms_sum_weights_then_normalise() -> None:
    pod = pod_json(
        "p",
        affinity={
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 10, "preference": {"matchExpressions": [_expr("disk", "Exists")]}},
                    {
                        "weight": 30,
                        "preference": {
                            "matchExpressions": [_expr("topology.kubernetes.io/zone", "In", "b")]
                        },
                    },
                ]
            }
        },
    )
    assert _scores(node_affinity, _cluster(AFFINITY_NODES), pod) == [25, 100, 0]
    assert _scores(node_affinity, _cluster(AFFINITY_NODES), pod_json("q")) == []  # PreScore skips


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        pytest.param({"hostPort": 8080}, [U, U, 0], id="all-ips-conflicts-with-any-ip"),
        pytest.param(
            {"hostPort": 8080, "hostIP": "10.0.0.1"},
            [U, 0, 0],
            id="specific-ip-vs-all-ips-and-same-ip",
        ),
        pytest.param(
            {"hostPort": 8080, "hostIP": "10.0.0.2"},
            [U, 0, 0],
            id="other-ip-only-conflicts-with-all",
        ),
        pytest.param({"hostPort": 8080, "protocol": "UDP"}, [0, 0, 0], id="other-protocol"),
        pytest.param({"hostPort": 9090}, [0, 0, 0], id="free-port"),
    ],
)
def test_node_ports(wanted: dict[str, Any], expected: list[int]) -> None:
    def with_port(name: str, node: str, port: dict[str, Any]) -> dict[str, Any]:
        p = pod_json(name, node_name=node)
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, **port}]
        return p

    snap = _cluster(
        [node_json("a"), node_json("b"), node_json("c")],
        [
            with_port("x", "a", {"hostPort": 8080}),
            with_port("y", "b", {"hostPort": 8080, "hostIP": "10.0.0.3"}),
        ],
    )
    incoming = pod_json("p")
    incoming["spec"]["containers"][0]["ports"] = [{"containerPort": 80, **wanted}]
    if wanted.get("hostIP") == "10.0.0.1":
        expected = [U, 0, 0]
    assert _filter_codes(node_ports, snap, incoming) == expected


def test_image_locality_scales_by_size_and_spread() -> None:
    big = 500 * 1024 * 1024
    snap = _cluster(
        [
            node_json("has", images=[("example.com/app:v1", big)]),
            node_json("also", images=[("example.com/app:v1", big)]),
            node_json("none"),
            node_json("none2"),
        ]
    )
    # spread 2/4: 250 MiB counts; (250 - 23) * 100 // (1000 - 23) = 23
    assert _scores(image_locality, snap, pod_json("p", image="example.com/app:v1")) == [
        23,
        23,
        0,
        0,
    ]
    assert _scores(image_locality, snap, pod_json("p", image="example.com/other")) == [0, 0, 0, 0]
    assert image_locality.normalized_image_name("nginx") == "nginx:latest"
    assert image_locality.normalized_image_name("host:5000/nginx") == "host:5000/nginx:latest"
