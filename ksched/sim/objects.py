"""A workload's rows as ``ksched.api`` objects, each distinct pod validated only once.

Validating a pod dict costs far more than a scheduling decision's share of
a replay, and traces repeat a few hundred request shapes thousands of times
(openb: 162 distinct pods in 8152). ``PodFactory`` validates one template
per distinct row content and hands out shallow copies that differ in name;
each copy gets its own spec, status, labels and annotations, because
binding and GPU-share plugins write into those. A row whose content occurs
once (synthetic and most time-based traces: every CPU and memory request
differs) copies the template of its shape instead (the same content but
for the CPU and memory amounts) and sets those two quantities.

``PodConversion`` adapts the trace's pods to the profile that will place
them. The default profile knows nothing of Open-Gpu-Share annotations, so
by default a GPU pod also requests the extended resource
``alibabacloud.com/gpu-milli`` = num_gpu x gpu_milli (every GPU node already
offers 1000 per GPU, ``NodeTable.node_dict``): NodeResourcesFit then never
over-commits a node's GPUs in aggregate. Per-GPU placement is the business
of GPU-share plugins; switch the request off when one accounts GPUs itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from ksched.api import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, Node, Pod, Quantity
from ksched.config import DEFAULT_SCHEDULER_NAME
from ksched.framework.pod_info import PodInfo
from ksched.traces.workload import (
    GPU_CARD_MODEL,
    GPU_MILLI,
    NodeTable,
    PodTable,
    memory_quantity,
)

__all__ = ["PodConversion", "PodFactory", "build_nodes", "pod_dict"]

_CACHE_SIZE: Final = 4096
_M = TypeVar("_M", bound=BaseModel)
_set = object.__setattr__
CPU: Final = "cpu"
MEMORY: Final = "memory"
# Columns that make two pods schedule the same way; the name is not one of them.
_CONTENT: Final = (
    "cpu_milli",
    "memory_bytes",
    "num_gpu",
    "gpu_milli",
    "gpu_models",
    "priority",
    "qos",
    "group",
    "max_per_node",
)


@dataclass(frozen=True)
class PodConversion:
    """How trace rows become pods.

    ``gpu_as_extended_resource``: request ``alibabacloud.com/gpu-milli``
    (num_gpu x gpu_milli) besides the Open-Gpu-Share annotations.
    ``gpu_model_affinity``: turn a GPU-model constraint into a required node
    affinity on the ``alibabacloud.com/gpu-card-model`` label, so profiles
    without a GPU-share filter still honour it.
    """

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    namespace: str = "default"
    gpu_as_extended_resource: bool = True
    gpu_model_affinity: bool = True


def pod_dict(table: PodTable, row: int, conversion: PodConversion) -> dict[str, Any]:
    """Row ``row`` as Kubernetes JSON, adapted by ``conversion``."""
    d = table.pod_dict(row, conversion.namespace)
    spec = d["spec"]
    spec["schedulerName"] = conversion.scheduler_name
    gpu = int(table.num_gpu[row]) * int(table.gpu_milli[row])
    if conversion.gpu_as_extended_resource and gpu:
        spec["containers"][0]["resources"]["requests"][GPU_MILLI] = str(gpu)
    models = table.gpu_models[row]
    if conversion.gpu_model_affinity and models and table.num_gpu[row]:
        term = {
            "matchExpressions": [{"key": GPU_CARD_MODEL, "operator": "In", "values": list(models)}]
        }
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
            }
        }
    return d


def _copied(model: _M, update: dict[str, Any] | None = None) -> _M:
    """``model.model_copy(update=update)`` for declared fields, the same shallow copy.

    Pydantic's generic path costs several times this, and a replay copies
    four models per pod.
    """
    cls = type(model)
    copy = cls.__new__(cls)
    values = model.__dict__.copy()
    fields_set = set(model.__pydantic_fields_set__)
    if update:
        values.update(update)
        fields_set.update(update)
    extra, private = model.__pydantic_extra__, getattr(model, "__pydantic_private__", None)
    _set(copy, "__dict__", values)
    _set(copy, "__pydantic_extra__", None if extra is None else extra.copy())
    _set(copy, "__pydantic_fields_set__", fields_set)
    _set(
        copy,
        "__pydantic_private__",
        None
        if private is None
        else {k: v for k, v in private.items() if v is not PydanticUndefined},
    )
    return copy


def _renamed(template: Pod, name: str) -> Pod:
    meta = template.metadata
    return _copied(
        template,
        {
            "metadata": _copied(
                meta,
                {"name": name, "labels": dict(meta.labels), "annotations": dict(meta.annotations)},
            ),
            "spec": _copied(template.spec),
            "status": _copied(template.status),
        },
    )


def _with_amounts(template: Pod, name: str, cpu_milli: int, memory_bytes: int) -> Pod:
    """``_renamed(template, name)`` whose first container requests these CPU and memory.

    The template requests both or neither as the row does (its shape says so),
    and ``pod_dict`` writes them as this does, so validation would give the same.
    """
    pod = _renamed(template, name)
    spec = pod.spec
    first = spec.containers[0]
    requests = dict(first.resources.requests)
    if cpu_milli:
        requests[CPU] = Quantity.exact(f"{cpu_milli}m", Fraction(cpu_milli, 1000))
    if memory_bytes:
        requests[MEMORY] = Quantity.exact(memory_quantity(memory_bytes), Fraction(memory_bytes))
    resources = _copied(first.resources, {"requests": requests})
    spec.__dict__["containers"] = [_copied(first, {"resources": resources}), *spec.containers[1:]]
    return pod


def _classes(table: PodTable, amounts: bool = True) -> NDArray[np.intp]:
    """Equal codes for rows equal in everything but the name.

    ``amounts=False``: in everything but the name and the CPU and memory
    amounts (whether each is zero still counts): rows of one shape.
    """
    if len(table) == 0:
        return np.zeros(0, dtype=np.intp)
    columns: dict[str, Any] = {c: getattr(table, c) for c in _CONTENT}
    if not amounts:
        columns["cpu_milli"] = table.cpu_milli > 0
        columns["memory_bytes"] = table.memory_bytes > 0
    columns.update({f"extended:{k}": v for k, v in table.extended.items()})
    frame = pd.DataFrame(columns)
    codes = frame.groupby(list(frame.columns), sort=False, dropna=False).ngroup()
    return np.asarray(codes.to_numpy(), dtype=np.intp)


class PodFactory:
    """Pods for rows of ``table``; a row may be built many times (tuned copies, resubmissions)."""

    def __init__(
        self,
        table: PodTable,
        conversion: PodConversion | None = None,
        *,
        cache_size: int = _CACHE_SIZE,
    ) -> None:
        self.table = table
        self.conversion = conversion or PodConversion()
        self.classes = _classes(table)
        self._count = np.bincount(self.classes) if len(table) else np.zeros(0, np.intp)
        self._shapes: NDArray[np.intp] | None = None  # worked out when a one-off row comes
        self._templates: dict[int, Pod] = {}
        self._shape_templates: dict[int, Pod] = {}
        self._cache_size = cache_size

    def pod(self, row: int, name: str | None = None) -> Pod:
        """A new Pod for ``row``, named ``name`` (default: the row's own name)."""
        name = str(self.table.name[row]) if name is None else name
        cls = int(self.classes[row])
        if self._count[cls] == 1:
            return self._one_off(row, name)
        template = self._templates.get(cls)
        if template is None:
            if len(self._templates) >= self._cache_size:
                self._templates.clear()
            template = Pod.model_validate(pod_dict(self.table, row, self.conversion))
            self._templates[cls] = template
        return _renamed(template, name)

    def _one_off(self, row: int, name: str) -> Pod:
        """The pod of a row whose content occurs once, from the template of its shape."""
        if self._shapes is None:
            self._shapes = _classes(self.table, amounts=False)
        shape = int(self._shapes[row])
        table = self.table
        template = self._shape_templates.get(shape)
        if template is None:
            if len(self._shape_templates) >= self._cache_size:
                self._shape_templates.clear()
            template = Pod.model_validate(pod_dict(table, row, self.conversion))
            self._shape_templates[shape] = template
        return _with_amounts(
            template, name, int(table.cpu_milli[row]), int(table.memory_bytes[row])
        )

    def info(self, row: int, name: str | None = None) -> PodInfo:
        """``PodInfo.from_pod(self.pod(row, name))``, its requests read from the table.

        Exact quantity arithmetic costs more than a scheduling cycle for a pod
        whose requests are all distinct; a trace pod has one container and no
        overhead, so its requests are the table's integers (tests hold the two
        forms equal).
        """
        pod = self.pod(row, name)
        meta = pod.metadata
        namespace = meta.namespace or "default"
        key = f"{namespace}/{meta.name}"
        requests, cpu, memory = self._requests(row)
        return PodInfo(
            pod=pod,
            key=key,
            uid=meta.uid or key,
            namespace=namespace,
            name=meta.name or "",
            priority=pod.spec.priority or 0,
            labels=meta.labels,
            requests=requests,
            non_zero_cpu=cpu,
            non_zero_memory=memory,
        )

    def _requests(self, row: int) -> tuple[dict[str, int], int, int]:
        """(requests, non-zero cpu, non-zero memory) in ``pod_dict``'s order and units."""
        table = self.table
        cpu, memory = int(table.cpu_milli[row]), int(table.memory_bytes[row])
        requests: dict[str, int] = {}
        if cpu:
            requests[CPU] = cpu
        if memory:
            requests[MEMORY] = memory
        for resource, amounts in table.extended.items():
            if amounts[row]:
                requests[resource] = int(amounts[row])
        gpu = int(table.num_gpu[row]) * int(table.gpu_milli[row])
        if self.conversion.gpu_as_extended_resource and gpu:
            requests[GPU_MILLI] = gpu
        # Request-less containers count as kube-scheduler's defaults when scoring.
        return requests, cpu or DEFAULT_MILLI_CPU_REQUEST, memory or DEFAULT_MEMORY_REQUEST

    @property
    def repeats(self) -> bool:
        """Do rows repeat, on average at least twice? Then caches keyed by pod shape pay off."""
        return 2 * len(self._count) <= len(self.table)


def build_nodes(table: NodeTable, names: Sequence[str] | None = None) -> list[Node]:
    """The table's nodes, optionally renamed (row ``i`` gets ``names[i]``)."""
    nodes = []
    for i in range(len(table)):
        d = table.node_dict(i)
        if names is not None:
            d["metadata"]["name"] = names[i]
        nodes.append(Node.model_validate(d))
    return nodes
