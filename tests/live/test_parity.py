"""Decision parity with kube-scheduler: the same pod in the same cluster, placed by each.

Every scenario builds its nodes and existing pods, lets kube-scheduler place
the probe pod three times (from the same starting state each time) and
ksched once.  Where kube-scheduler picked the same node all three times its
top node is taken as unique (a tie is broken at random, so a tie between k
nodes survives three runs with probability 1/k^2), and ksched must pick it.
"""

from __future__ import annotations

import gc
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from live_support import KSCHED, KschedProcess, create_pods, pod, pods_in, register, wait_bound

from ksched.testing.k8s import FakeNodes, RealControlPlane, ready_node, wait_until

DEFAULT = "default-scheduler"
KUBE_RUNS = 3
SETTLE = 1.5  # for both schedulers' informers to see the scenario's objects


@dataclass
class Scenario:
    name: str
    nodes: list[dict[str, Any]]
    existing: list[dict[str, Any]]  # pods with spec.nodeName set
    probe: Callable[[str, str], dict[str, Any]]  # (name, schedulerName) -> pod
    results: dict[str, list[str]] = field(default_factory=dict)


def _node(name: str, cpu: str = "4", memory: str = "16Gi", **kw: Any) -> dict[str, Any]:
    return ready_node(name, cpu=cpu, memory=memory, **kw)


def _on(node: str, name: str, cpu: str, memory: str = "1Gi", **kw: Any) -> dict[str, Any]:
    p = pod(name, DEFAULT, cpu=cpu, memory=memory, **kw)
    p["spec"]["nodeName"] = node
    return p


def _probe(**kw: Any) -> Callable[[str, str], dict[str, Any]]:
    return lambda name, scheduler: pod(name, scheduler, **kw)


def _scenarios() -> list[Scenario]:
    web = {"app": "web"}
    return [
        Scenario(
            "least-allocated",
            [_node(f"la-{i}") for i in range(4)],
            [
                _on("la-0", "u0", "3", "8Gi"),
                _on("la-1", "u1", "1", "2Gi"),
                _on("la-2", "u2", "2", "4Gi"),
                _on("la-3", "u3", "2500m", "6Gi"),
            ],
            _probe(cpu="500m", memory="1Gi"),
        ),
        Scenario(
            "only-one-fits",
            [_node(f"fit-{i}", cpu="2", memory="8Gi") for i in range(4)],
            [
                _on("fit-0", "u0", "1800m"),
                _on("fit-1", "u1", "1"),
                _on("fit-2", "u2", "1500m"),
                _on("fit-3", "u3", "1900m"),
            ],
            _probe(cpu="900m"),
        ),
        Scenario(
            "balanced-allocation",
            [_node(f"bal-{i}", cpu="8", memory="32Gi") for i in range(3)],
            [
                _on("bal-0", "u0", "6", "4Gi"),
                _on("bal-1", "u1", "2", "24Gi"),
                _on("bal-2", "u2", "4", "16Gi"),
            ],
            _probe(cpu="1", memory="4Gi"),
        ),
        Scenario(
            "taints",
            [
                _node("t-0", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
                _node(
                    "t-1", taints=[{"key": "spot", "value": "yes", "effect": "PreferNoSchedule"}]
                ),
                _node("t-2", taints=[{"key": "team", "value": "b", "effect": "NoSchedule"}]),
                _node("t-3"),
            ],
            [_on("t-3", "u3", "2500m", "8Gi")],
            _probe(
                tolerations=[
                    {"key": "team", "operator": "Equal", "value": "b", "effect": "NoSchedule"}
                ]
            ),
        ),
        Scenario(
            "node-affinity",
            [
                _node("na-0", labels={"zone": "a", "disk": "ssd"}),
                _node("na-1", labels={"zone": "b", "disk": "hdd", "gpu": "yes"}),
                _node("na-2", labels={"zone": "c", "disk": "ssd", "gpu": "yes"}),
                _node("na-3", labels={"zone": "b", "disk": "ssd"}),
            ],
            [_on("na-3", "u3", "1", "4Gi")],
            _probe(
                affinity={
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {
                            "nodeSelectorTerms": [
                                {
                                    "matchExpressions": [
                                        {"key": "zone", "operator": "In", "values": ["a", "b"]}
                                    ]
                                }
                            ]
                        },
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 80,
                                "preference": {
                                    "matchExpressions": [
                                        {"key": "disk", "operator": "In", "values": ["ssd"]}
                                    ]
                                },
                            },
                            {
                                "weight": 20,
                                "preference": {
                                    "matchExpressions": [{"key": "gpu", "operator": "Exists"}]
                                },
                            },
                        ],
                    }
                }
            ),
        ),
        Scenario(
            "topology-spread",
            [
                _node("ts-a0", labels={"topology.kubernetes.io/zone": "a"}),
                _node("ts-a1", labels={"topology.kubernetes.io/zone": "a"}),
                _node("ts-b0", labels={"topology.kubernetes.io/zone": "b"}),
                _node("ts-c0", labels={"topology.kubernetes.io/zone": "c"}),
                _node("ts-c1", labels={"topology.kubernetes.io/zone": "c"}),
            ],
            [
                _on("ts-a0", "w0", "100m", labels=web),
                _on("ts-a1", "w1", "100m", labels=web),
                _on("ts-b0", "w2", "100m", labels=web),
                _on("ts-c0", "w3", "100m", labels=web),
            ],
            _probe(
                labels=web,
                topologySpreadConstraints=[
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {"matchLabels": web},
                    },
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": web},
                    },
                ],
            ),
        ),
        Scenario(
            "inter-pod-affinity",
            [_node(f"ia-{i}") for i in range(4)],
            [
                _on("ia-0", "db0", "100m", labels={"app": "db"}),
                _on("ia-1", "db1", "100m", labels={"app": "db"}),
                _on("ia-3", "cache", "100m", labels={"app": "cache"}),
                _on("ia-2", "u2", "500m"),
            ],
            _probe(
                affinity={
                    "podAntiAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "labelSelector": {"matchLabels": {"app": "db"}},
                                "topologyKey": "kubernetes.io/hostname",
                            }
                        ]
                    },
                    "podAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 50,
                                "podAffinityTerm": {
                                    "labelSelector": {"matchLabels": {"app": "cache"}},
                                    "topologyKey": "kubernetes.io/hostname",
                                },
                            }
                        ]
                    },
                }
            ),
        ),
        Scenario(
            "preemption",
            [_node(f"pe-{i}", cpu="2", memory="8Gi") for i in range(3)],
            [
                _on("pe-0", "v0a", "1", priorityClassName="p50"),
                _on("pe-0", "v0b", "1", priorityClassName="p10"),
                _on("pe-1", "v1", "2", priorityClassName="p10"),
                _on("pe-2", "v2a", "1", priorityClassName="p30"),
                _on("pe-2", "v2b", "1", priorityClassName="p30"),
            ],
            _probe(cpu="1500m", priorityClassName="p1000"),
        ),
    ]


@pytest.fixture(scope="module")
def priority_classes(cluster: RealControlPlane) -> None:
    for value in (10, 30, 50, 1000):
        cluster.api.call(
            "POST",
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": f"p{value}"},
                "value": value,
            },
        )


def _clear(cluster: RealControlPlane, ns: str) -> None:
    for name in pods_in(cluster.api, ns):
        cluster.api.request(
            "DELETE", f"/api/v1/namespaces/{ns}/pods/{name}", {"gracePeriodSeconds": 0}
        )
    wait_until(lambda: not pods_in(cluster.api, ns), f"pods of {ns} to be gone", 30)


def _place(cluster: RealControlPlane, ns: str, sc: Scenario, name: str, scheduler: str) -> str:
    """Set up the existing pods, let ``scheduler`` place the probe, return its node, clean up."""
    create_pods(cluster.api, ns, sc.existing)
    time.sleep(SETTLE)
    create_pods(cluster.api, ns, [sc.probe(name, scheduler)])
    node = str(wait_bound(cluster.api, ns, [name], timeout=60)[name]["spec"]["nodeName"])
    _clear(cluster, ns)
    time.sleep(SETTLE)
    return node


@pytest.fixture(scope="module")
def ksched_proc(
    kubeconfig: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KschedProcess]:
    proc = KschedProcess(kubeconfig, tmp_path_factory.mktemp("parity"))
    proc.start()
    yield proc
    proc.kill()


AGREEMENT: dict[str, tuple[int, int]] = {}


@pytest.mark.parametrize("scenario", _scenarios(), ids=lambda s: s.name)
def test_same_node_as_kube_scheduler(
    cluster: RealControlPlane,
    priority_classes: None,
    ksched_proc: KschedProcess,
    scenario: Scenario,
) -> None:
    ns = f"parity-{scenario.name}"
    cluster.create_namespace(ns)
    fake = FakeNodes(cluster.api, scenario.nodes)
    register(fake)
    try:
        kube = [_place(cluster, ns, scenario, f"kube-{i}", DEFAULT) for i in range(KUBE_RUNS)]
        ours = _place(cluster, ns, scenario, "ksched-0", KSCHED)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            fake.delete()
            gc.collect()
    unique = len(set(kube)) == 1
    AGREEMENT[scenario.name] = (int(unique), int(unique and ours == kube[0]))
    print(f"\n{scenario.name}: kube-scheduler {kube}, ksched {ours}")
    if unique:
        assert ours == kube[0], f"kube-scheduler chose {kube[0]} every time; ksched chose {ours}"
    else:
        pytest.skip(f"kube-scheduler's top node is not unique here: {kube}")


def test_agreement_summary() -> None:
    """Runs last in the module: prints the agreement over the scenarios with a unique top node."""
    if not AGREEMENT:
        pytest.skip("run together with the scenario tests above")
    unique = sum(u for u, _ in AGREEMENT.values())
    agree = sum(a for _, a in AGREEMENT.values())
    assert unique > 0
    print(f"\nparity: ksched agreed with kube-scheduler on {agree}/{unique} unique-top scenarios")
    assert agree == unique
