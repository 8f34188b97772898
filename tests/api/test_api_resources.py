"""Pod requests and node allocatable, checked against upstream's PodRequests cases."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksched.api import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    Node,
    Pod,
    node_allocatable,
    non_zero_requests,
    pod_requests,
    resource_amount,
    resource_quantity,
)

Mi = 2**20
Gi = 2**30


def container(
    name: str = "c", restart_policy: str | None = None, **requests: str | int
) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "resources": {"requests": dict(requests)}}
    if restart_policy:
        c["restartPolicy"] = restart_policy
    return c


def pod(
    containers: list[dict[str, Any]],
    init: list[dict[str, Any]] | None = None,
    overhead: dict[str, str] | None = None,
    pod_level: dict[str, str] | None = None,
) -> Pod:
    spec: dict[str, Any] = {"containers": containers}
    if init:
        spec["initContainers"] = init
    if overhead:
        spec["overhead"] = overhead
    if pod_level:
        spec["resources"] = {"requests": pod_level}
    return Pod.model_validate({"apiVersion": "v1", "kind": "Pod", "spec": spec})


def gpu(n: int) -> dict[str, int]:
    return {"nvidia.com/gpu": n}


REQUESTS = [
    pytest.param(pod([]), {}, id="no-containers"),
    pytest.param(pod([container()]), {}, id="no-requests"),
    pytest.param(
        pod([container(cpu="100m", memory="1Gi"), container("d", cpu="1.5", memory="512Mi")]),
        {"cpu": 1600, "memory": Gi + 512 * Mi},
        id="containers-summed",
    ),
    pytest.param(pod([container(cpu="1m")] * 3), {"cpu": 3}, id="three-containers-milli"),
    pytest.param(
        # Sums are exact and rounded once: 3 x 0.4m = 1.2m -> 2m, not 3 x 1m.
        pod([container(cpu="0.4m")] * 3),
        {"cpu": 2},
        id="rounded-after-summing",
    ),
    pytest.param(
        pod(
            [container(cpu="1", memory="1Gi")],
            init=[
                container("i1", cpu="2", memory="512Mi"),
                container("i2", cpu="500m", memory="2Gi"),
            ],
        ),
        {"cpu": 2000, "memory": 2 * Gi},
        id="init-containers-max-per-resource",
    ),
    pytest.param(
        pod([container(cpu="1")], init=[container("i", **{"ephemeral-storage": "1G"})]),
        {"cpu": 1000, "ephemeral-storage": 10**9},
        id="init-only-resource",
    ),
    pytest.param(
        # KEP-753 example: sidecar 1 is added to the containers and to later init stages.
        pod(
            [container(cpu="1")],
            init=[
                container("sidecar", "Always", cpu="500m"),
                container("i", cpu="2"),
            ],
        ),
        {"cpu": 2500},
        id="sidecar-then-init",
    ),
    pytest.param(
        pod(
            [container(cpu="1")],
            init=[
                container("i", cpu="2"),
                container("sidecar", "Always", cpu="500m"),
            ],
        ),
        {"cpu": 2000},
        id="init-then-sidecar",
    ),
    pytest.param(
        pod(
            [container(cpu="100m")],
            init=[
                container("s1", "Always", cpu="200m"),
                container("s2", "Always", cpu="300m"),
                container("i", cpu="100m"),
            ],
        ),
        {"cpu": 600},
        id="two-sidecars",
    ),
    pytest.param(
        pod([container(cpu="1", memory="1Gi")], overhead={"cpu": "250m", "memory": "120Mi"}),
        {"cpu": 1250, "memory": Gi + 120 * Mi},
        id="overhead",
    ),
    pytest.param(
        pod(
            [container(cpu="1")],
            init=[container("i", cpu="3")],
            overhead={"cpu": "100m"},
        ),
        {"cpu": 3100},
        id="overhead-on-top-of-init-peak",
    ),
    pytest.param(
        pod(
            [container(**gpu(1)), container("d", **gpu(2))],
            init=[container("i", **{"example.com/fpga": 1})],
        ),
        {"nvidia.com/gpu": 3, "example.com/fpga": 1},
        id="extended-resources",
    ),
    pytest.param(
        pod([container(**{"hugepages-2Mi": "4Mi", "memory": "100M"})]),
        {"hugepages-2Mi": 4 * Mi, "memory": 10**8},
        id="hugepages",
    ),
    pytest.param(
        pod(
            [container(cpu="1", memory="1Gi", **gpu(1)), container("d", cpu="1")],
            pod_level={"cpu": "3"},
        ),
        {"cpu": 3000, "memory": Gi, "nvidia.com/gpu": 1},
        id="pod-level-overrides-cpu-only",
    ),
]


@pytest.mark.parametrize(("subject", "expected"), REQUESTS)
def test_pod_requests(subject: Pod, expected: dict[str, int]) -> None:
    assert pod_requests(subject) == expected


DEFAULT_MEM = DEFAULT_MEMORY_REQUEST
NON_ZERO = [
    pytest.param(pod([container()]), (100, DEFAULT_MEM), id="defaults"),
    pytest.param(pod([container(), container("d")]), (200, 2 * DEFAULT_MEM), id="per-container"),
    pytest.param(
        pod([container(cpu="1"), container("d")]),
        (1100, 2 * DEFAULT_MEM),
        id="only-missing-filled",
    ),
    pytest.param(pod([container(cpu="0", memory="0")]), (0, 0), id="explicit-zero-is-not-missing"),
    pytest.param(
        pod([container(cpu="1", memory="1Gi")], init=[container("i")]),
        (1000, Gi),
        id="init-defaults-below-containers",
    ),
    pytest.param(
        pod([container(memory="1Gi")], overhead={"cpu": "50m"}),
        (150, Gi),
        id="overhead",
    ),
    pytest.param(
        pod([container(), container("d")], pod_level={"cpu": "2"}),
        (2000, 2 * DEFAULT_MEM),
        id="pod-level-cpu-memory-defaulted",
    ),
    pytest.param(
        pod([container(memory="1Gi")], pod_level={"cpu": "2"}),
        (2000, Gi),
        id="pod-level-nothing-missing",
    ),
    pytest.param(pod([]), (0, 0), id="no-containers"),
]


@pytest.mark.parametrize(("subject", "expected"), NON_ZERO)
def test_non_zero_requests(subject: Pod, expected: tuple[int, int]) -> None:
    assert non_zero_requests(subject) == expected


def test_defaults_are_upstreams() -> None:
    assert (DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST) == (100, 200 * 1024 * 1024)


def node(status: dict[str, Any]) -> Node:
    return Node.model_validate({"apiVersion": "v1", "kind": "Node", "status": status})


ALLOCATABLE = [
    pytest.param(
        node(
            {
                "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "3920m", "memory": "15098164Ki", "pods": "110"},
            }
        ),
        {"cpu": 3920, "memory": 15098164 * 1024, "pods": 110},
        id="allocatable",
    ),
    pytest.param(
        node({"capacity": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "2"}}),
        {"cpu": 4000, "memory": 16 * Gi, "nvidia.com/gpu": 2},
        id="capacity-fallback",
    ),
    pytest.param(node({}), {}, id="empty"),
]


@pytest.mark.parametrize(("subject", "expected"), ALLOCATABLE)
def test_node_allocatable(subject: Node, expected: dict[str, int]) -> None:
    assert node_allocatable(subject) == expected


UNITS = [
    ("cpu", 1500, "1500m"),
    ("cpu", 2000, "2"),
    ("memory", Gi, "1Gi"),
    ("memory", 1536 * Mi, "1536Mi"),
    ("ephemeral-storage", 10 * Gi, "10Gi"),
    ("hugepages-1Gi", 2 * Gi, "2Gi"),
    ("pods", 110, "110"),
    ("nvidia.com/gpu", 1, "1"),
]


@pytest.mark.parametrize(("name", "amount", "text"), UNITS, ids=[f"{n}-{a}" for n, a, _ in UNITS])
def test_resource_quantity_round_trips(name: str, amount: int, text: str) -> None:
    q = resource_quantity(name, amount)
    assert q.raw == text
    assert resource_amount(name, q) == amount


QUANTITY = st.builds(
    lambda number, suffix: f"{number}{suffix}",
    st.one_of(
        st.integers(0, 10**7).map(str),
        st.decimals(0, 10**4, places=3, allow_nan=False).map(lambda d: f"{d:f}"),
    ),
    st.sampled_from(["", "m", "n", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "E-2"]),
)


@settings(max_examples=300, deadline=None)
@given(
    requests=st.dictionaries(
        st.sampled_from(["cpu", "memory", "ephemeral-storage", "nvidia.com/gpu"]), QUANTITY
    )
)
def test_one_container_shortcut_matches_the_exact_sum(requests: dict[str, str]) -> None:
    """The scheduler's lone-container path (PodInfo) against upstream's exact arithmetic."""
    from ksched.framework.pod_info import PodInfo

    subject = pod([container(**requests)])
    info = PodInfo.from_pod(subject)
    assert (info.requests, (info.non_zero_cpu, info.non_zero_memory)) == (
        pod_requests(subject),
        non_zero_requests(subject),
    )
