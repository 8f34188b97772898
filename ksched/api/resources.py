"""Pod requests and node allocatable as integers, the way kube-scheduler counts them.

Units: ``cpu`` in millicores, every other resource (memory, ephemeral-storage,
hugepages-*, extended resources) in its base unit. Sums are taken on exact
quantities and rounded once at the end, as upstream sums ``Quantity`` values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Final

from ksched.api.node import Node
from ksched.api.pod import Container, Pod
from ksched.api.quantity import Quantity, milli_value, value

__all__ = [
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "node_allocatable",
    "non_zero_requests",
    "pod_requests",
    "resource_amount",
    "resource_quantity",
]

CPU: Final = "cpu"
MEMORY: Final = "memory"

# pkg/scheduler/util/pod_resources.go: what a request-less container is taken to use.
DEFAULT_MILLI_CPU_REQUEST: Final = 100
DEFAULT_MEMORY_REQUEST: Final = 200 * 1024 * 1024

_BINARY_PREFIXES: Final = ("memory", "ephemeral-storage", "hugepages-")

Amounts = dict[str, Fraction]


def resource_amount(name: str, q: Quantity | Fraction) -> int:
    """``q`` in the integer unit of resource ``name`` (MilliValue for cpu, else Value)."""
    f = q.fraction if isinstance(q, Quantity) else q
    return milli_value(f) if name == CPU else value(f)


def resource_quantity(name: str, amount: int) -> Quantity:
    """The inverse of ``resource_amount``, written canonically: cpu 1500 -> ``1500m``,
    memory 1073741824 -> ``1Gi``."""
    if name == CPU:
        return Quantity.of(Fraction(amount, 1000))
    return Quantity.of(amount, "BinarySI" if name.startswith(_BINARY_PREFIXES) else "DecimalSI")


def _add(total: Amounts, more: Mapping[str, Fraction]) -> None:
    for name, amount in more.items():
        total[name] = total.get(name, 0) + amount


def _raise_to(total: Amounts, other: Mapping[str, Fraction]) -> None:
    for name, amount in other.items():
        if name not in total or amount > total[name]:
            total[name] = amount


def _container_requests(container: Container, non_missing: Mapping[str, Fraction]) -> Amounts:
    reqs = {name: q.fraction for name, q in container.resources.requests.items()}
    for name, amount in non_missing.items():
        reqs.setdefault(name, amount)
    return reqs


def _pod_level_requests(pod: Pod) -> Amounts:
    """Pod-level requests of the resources that may be set per pod (cpu, memory, hugepages)."""
    level = pod.spec.resources
    if level is None:
        return {}
    return {
        name: q.fraction
        for name, q in level.requests.items()
        if name in (CPU, MEMORY) or name.startswith("hugepages-")
    }


def _requests(pod: Pod, non_missing: Mapping[str, Fraction]) -> Amounts:
    # k8s.io/component-helpers/resource/helpers.go PodRequests (status resources not modelled).
    reqs: Amounts = {}
    for container in pod.spec.containers:
        _add(reqs, _container_requests(container, non_missing))
    sidecars: Amounts = {}
    init_peak: Amounts = {}
    for container in pod.spec.init_containers:
        stage = _container_requests(container, non_missing)
        if container.restart_policy == "Always":
            # A sidecar runs alongside everything started after it.
            _add(reqs, stage)
            _add(sidecars, stage)
            stage = sidecars
        else:
            _add(stage, sidecars)
        _raise_to(init_peak, stage)
    _raise_to(reqs, init_peak)
    reqs.update(_pod_level_requests(pod))
    _add(reqs, {name: q.fraction for name, q in pod.spec.overhead.items()})
    return reqs


def _to_units(amounts: Iterable[tuple[str, Fraction]]) -> dict[str, int]:
    return {name: resource_amount(name, amount) for name, amount in amounts}


def pod_requests(pod: Pod) -> dict[str, int]:
    """Effective requests: containers summed, init containers' peak, sidecars, overhead.

    Pod-level ``spec.resources.requests`` override the container sum for the
    resources they name, as with the PodLevelResources feature on.
    """
    return _to_units(_requests(pod, {}).items())


def non_zero_requests(pod: Pod) -> tuple[int, int]:
    """(cpu millicores, memory bytes) with kube-scheduler's defaults for request-less containers.

    Used by scoring so that pods without requests still spread; mirrors
    ``NodeInfo.calculateResource`` in pkg/scheduler/framework/types.go.
    """
    defaults = {
        CPU: Fraction(DEFAULT_MILLI_CPU_REQUEST, 1000),
        MEMORY: Fraction(DEFAULT_MEMORY_REQUEST),
    }
    if _pod_level_requests(pod):
        # With pod-level requests a default fills in only what neither level names.
        present = _requests(pod, {})
        defaults = {name: amount for name, amount in defaults.items() if name not in present}
    reqs = _requests(pod, defaults)
    return milli_value(reqs.get(CPU, Fraction(0))), value(reqs.get(MEMORY, Fraction(0)))


def node_allocatable(node: Node) -> dict[str, int]:
    """What the scheduler may hand out: ``status.allocatable``, or ``capacity`` if it is unset."""
    status = node.status
    source = status.allocatable if status.allocatable else status.capacity
    return _to_units((name, q.fraction) for name, q in source.items())
