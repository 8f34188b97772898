"""The canonical workload: a node table and a pod table of typed numpy columns.

Columnar because a replay of a million pods must not build a million Python
objects before its first event; ``to_pods()``/``to_nodes()`` build real
``ksched.api`` objects one at a time when a consumer wants them. Every loader
returns a ``Workload``, and Parquet keeps one on disk without loss.

Units are exact integers: CPU in millicores, memory and other byte quantities
in bytes (MiB x 1048576), GPU share in milli-GPU per GPU (0..1000). Times are
float64 seconds from the trace's own origin, NaN when unknown.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from ksched.api import Node, Pod

__all__ = [
    "DEFAULT_MAX_PODS",
    "GIB",
    "GPU_CARD_MODEL",
    "GPU_COUNT",
    "GPU_MILLI",
    "GROUP_LABEL",
    "MAX_PER_NODE_ANNOTATION",
    "MIB",
    "QOS_ANNOTATION",
    "NodeTable",
    "PodTable",
    "Workload",
    "gpu_model_sets",
]

# Open-Gpu-Share's resource, annotation and label names, as the FGD simulator's
# node_yaml/openb_node_list_gpu_node.yaml spells them.
GPU_MILLI: Final = "alibabacloud.com/gpu-milli"
GPU_COUNT: Final = "alibabacloud.com/gpu-count"
GPU_CARD_MODEL: Final = "alibabacloud.com/gpu-card-model"
# ksched's own names for trace fields that Kubernetes has no field for.
GROUP_LABEL: Final = "ksched.io/group"
QOS_ANNOTATION: Final = "ksched.io/qos"
MAX_PER_NODE_ANNOTATION: Final = "ksched.io/max-per-node"

MIB: Final = 1 << 20
GIB: Final = 1 << 30
# The kubelet's default --max-pods.
DEFAULT_MAX_PODS: Final = 110

_BINARY_UNITS: Final = (("Ti", 1 << 40), ("Gi", GIB), ("Mi", MIB), ("Ki", 1 << 10))

Index = slice | ArrayLike


def _rows(idx: Index, n: int) -> NDArray[np.intp]:
    """Positions selected by a slice, a boolean mask or integer positions."""
    return np.arange(n)[idx]  # type: ignore[index]


def _objects(values: ArrayLike, n: int | None = None) -> NDArray[np.object_]:
    arr = np.asarray(values, dtype=object)
    if n is not None and arr.shape != (n,):
        raise ValueError(f"expected {n} values, got shape {arr.shape}")
    return arr


def _filled(value: Any, n: int, dtype: Any) -> NDArray[Any]:
    return np.full(n, value, dtype=dtype)


def gpu_model_sets(specs: ArrayLike | pa.Array) -> NDArray[np.object_]:
    """Parse ``|``-separated GPU model lists into tuples, duplicates and blanks removed.

    ``"V100M16|V100M32|V100M32"`` becomes ``("V100M16", "V100M32")``; an empty
    string becomes ``()`` (any model). Only the distinct strings are split, so a
    million rows cost one factorisation.
    """
    arr = specs if isinstance(specs, pa.Array) else pa.array(np.asarray(specs, object), pa.string())
    encoded = pc.dictionary_encode(arr)
    uniques = encoded.dictionary.to_pylist()
    sets = np.empty(len(uniques), dtype=object)
    for i, spec in enumerate(uniques):
        models = (m.strip() for m in spec.split("|"))
        sets[i] = tuple(dict.fromkeys(m for m in models if m))
    return np.asarray(sets[encoded.indices.to_numpy(zero_copy_only=False)], dtype=object)


def memory_quantity(amount: int) -> str:
    """Bytes in the largest binary unit that divides them: 4096 is ``4Ki``."""
    for suffix, unit in _BINARY_UNITS:
        if amount and amount % unit == 0:
            return f"{amount // unit}{suffix}"
    return str(amount)


def _same(a: NDArray[Any], b: NDArray[Any]) -> bool:
    if a.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return a.shape == b.shape and bool(np.all(a == b))


def _extended(values: Mapping[str, ArrayLike] | None, n: int) -> dict[str, NDArray[np.int64]]:
    out = {name: np.asarray(v, dtype=np.int64) for name, v in (values or {}).items()}
    for name, arr in out.items():
        if arr.shape != (n,):
            raise ValueError(f"extended resource {name!r} has shape {arr.shape}, expected ({n},)")
        if (arr < 0).any():
            raise ValueError(f"extended resource {name!r} has a negative amount")
    return out


@dataclass(frozen=True, eq=False)
class NodeTable:
    """Nodes as columns. Build with ``from_columns``, which fills optional columns."""

    name: NDArray[np.object_]
    cpu_milli: NDArray[np.int64]
    memory_bytes: NDArray[np.int64]
    gpu_count: NDArray[np.int32]
    gpu_model: NDArray[np.object_]
    max_pods: NDArray[np.int32]
    extended: Mapping[str, NDArray[np.int64]] = field(default_factory=dict)
    labels: tuple[Mapping[str, str], ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.name)
        set_ = object.__setattr__
        set_(self, "name", _objects(self.name, n))
        set_(self, "gpu_model", _objects(self.gpu_model, n))
        for col, dtype in (
            ("cpu_milli", np.int64),
            ("memory_bytes", np.int64),
            ("gpu_count", np.int32),
            ("max_pods", np.int32),
        ):
            arr: NDArray[np.integer[Any]] = np.asarray(getattr(self, col), dtype=dtype)
            if arr.shape != (n,):
                raise ValueError(f"column {col} has shape {arr.shape}, expected ({n},)")
            if (arr < 0).any():
                raise ValueError(f"column {col} has a negative value")
            set_(self, col, arr)
        set_(self, "extended", _extended(self.extended, n))
        if self.labels is not None:
            if len(self.labels) != n:
                raise ValueError(f"labels has {len(self.labels)} entries, expected {n}")
            set_(self, "labels", tuple(self.labels))

    @classmethod
    def from_columns(
        cls,
        *,
        name: ArrayLike,
        cpu_milli: ArrayLike,
        memory_bytes: ArrayLike,
        gpu_count: ArrayLike | None = None,
        gpu_model: ArrayLike | None = None,
        max_pods: ArrayLike | int = DEFAULT_MAX_PODS,
        extended: Mapping[str, ArrayLike] | None = None,
        labels: Sequence[Mapping[str, str]] | None = None,
    ) -> NodeTable:
        n = len(np.asarray(name, dtype=object))
        return cls(
            name=_objects(name),
            cpu_milli=np.asarray(cpu_milli, dtype=np.int64),
            memory_bytes=np.asarray(memory_bytes, dtype=np.int64),
            gpu_count=_filled(0, n, np.int32) if gpu_count is None else np.asarray(gpu_count),
            gpu_model=_filled("", n, object) if gpu_model is None else _objects(gpu_model),
            max_pods=np.broadcast_to(np.asarray(max_pods, dtype=np.int32), (n,)).copy(),
            extended=dict(extended or {}),  # type: ignore[arg-type]
            labels=None if labels is None else tuple(labels),
        )

    @classmethod
    def empty(cls) -> NodeTable:
        """No nodes: for traces that record only workload (DLRM 2025)."""
        return cls.from_columns(name=[], cpu_milli=[], memory_bytes=[])

    def __len__(self) -> int:
        return len(self.name)

    def subset(self, idx: Index) -> NodeTable:
        rows = _rows(idx, len(self))
        return NodeTable(
            name=self.name[rows],
            cpu_milli=self.cpu_milli[rows],
            memory_bytes=self.memory_bytes[rows],
            gpu_count=self.gpu_count[rows],
            gpu_model=self.gpu_model[rows],
            max_pods=self.max_pods[rows],
            extended={k: v[rows] for k, v in self.extended.items()},
            labels=None if self.labels is None else tuple(self.labels[i] for i in rows),
        )

    def equals(self, other: NodeTable) -> bool:
        return _tables_equal(self, other)

    def node_dict(self, i: int) -> dict[str, Any]:
        """Node ``i`` as Kubernetes JSON, GPUs in Open-Gpu-Share's resource names."""
        name = str(self.name[i])
        gpus = int(self.gpu_count[i])
        capacity = {
            "cpu": f"{int(self.cpu_milli[i])}m",
            "memory": memory_quantity(int(self.memory_bytes[i])),
            "pods": str(int(self.max_pods[i])),
        }
        labels = {"kubernetes.io/hostname": name}
        if self.labels is not None:
            labels.update(self.labels[i])
        if gpus:
            capacity[GPU_COUNT] = str(gpus)
            capacity[GPU_MILLI] = str(1000 * gpus)
            if self.gpu_model[i]:
                labels[GPU_CARD_MODEL] = str(self.gpu_model[i])
        for resource, amounts in self.extended.items():
            capacity[resource] = str(int(amounts[i]))
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "status": {"capacity": capacity, "allocatable": dict(capacity)},
        }

    def to_nodes(self) -> Iterator[Node]:
        """``ksched.api.Node`` objects, built one at a time."""
        from ksched.api import Node

        for i in range(len(self)):
            yield Node.model_validate(self.node_dict(i))

    def summary(self) -> dict[str, Any]:
        """Totals a trace README publishes, for checking a load against it."""
        gpu = self.gpu_count > 0
        by_model = {
            str(m): int(self.gpu_count[gpu & (self.gpu_model == m)].sum())
            for m in np.unique(self.gpu_model[gpu]).tolist()
        }
        sizes, nodes = np.unique(self.gpu_count, return_counts=True)
        return {
            "nodes": len(self),
            "cpu_milli": int(self.cpu_milli.sum()),
            "memory_bytes": int(self.memory_bytes.sum()),
            "gpus": int(self.gpu_count.sum()),
            "gpus_by_model": by_model,
            "nodes_by_gpu_count": {int(s): int(c) for s, c in zip(sizes, nodes, strict=True)},
        }


@dataclass(frozen=True, eq=False)
class PodTable:
    """Pods as columns. Build with ``from_columns``, which fills optional columns.

    ``gpu_milli`` is the share of each of the ``num_gpu`` GPUs (Open-Gpu-Share);
    ``gpu_models`` holds a tuple of allowed GPU models per pod, ``()`` for any;
    ``max_per_node`` caps pods of the same ``group`` on one node, 0 for no cap.
    """

    name: NDArray[np.object_]
    cpu_milli: NDArray[np.int64]
    memory_bytes: NDArray[np.int64]
    num_gpu: NDArray[np.int32]
    gpu_milli: NDArray[np.int32]
    gpu_models: NDArray[np.object_]
    priority: NDArray[np.int32]
    qos: NDArray[np.object_]
    phase: NDArray[np.object_]
    group: NDArray[np.object_]
    max_per_node: NDArray[np.int32]
    creation_time: NDArray[np.float64]
    deletion_time: NDArray[np.float64]
    duration: NDArray[np.float64]
    scheduled_time: NDArray[np.float64]
    extended: Mapping[str, NDArray[np.int64]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.name)
        set_ = object.__setattr__
        for col in ("name", "gpu_models", "qos", "phase", "group"):
            set_(self, col, _objects(getattr(self, col), n))
        for col, dtype in (
            ("cpu_milli", np.int64),
            ("memory_bytes", np.int64),
            ("num_gpu", np.int32),
            ("gpu_milli", np.int32),
            ("priority", np.int32),
            ("max_per_node", np.int32),
            ("creation_time", np.float64),
            ("deletion_time", np.float64),
            ("duration", np.float64),
            ("scheduled_time", np.float64),
        ):
            arr = np.asarray(getattr(self, col), dtype=dtype)
            if arr.shape != (n,):
                raise ValueError(f"column {col} has shape {arr.shape}, expected ({n},)")
            set_(self, col, arr)
        for col in ("cpu_milli", "memory_bytes", "num_gpu", "gpu_milli", "max_per_node"):
            if (getattr(self, col) < 0).any():
                raise ValueError(f"column {col} has a negative value")
        if (self.gpu_milli > 1000).any():
            raise ValueError("column gpu_milli has a value above 1000")
        set_(self, "extended", _extended(self.extended, n))

    @classmethod
    def from_columns(
        cls,
        *,
        name: ArrayLike,
        cpu_milli: ArrayLike,
        memory_bytes: ArrayLike,
        num_gpu: ArrayLike | None = None,
        gpu_milli: ArrayLike | None = None,
        gpu_models: ArrayLike | None = None,
        priority: ArrayLike | int = 0,
        qos: ArrayLike | str = "",
        phase: ArrayLike | str = "",
        group: ArrayLike | str = "",
        max_per_node: ArrayLike | int = 0,
        creation_time: ArrayLike | None = None,
        deletion_time: ArrayLike | None = None,
        duration: ArrayLike | None = None,
        scheduled_time: ArrayLike | None = None,
        extended: Mapping[str, ArrayLike] | None = None,
    ) -> PodTable:
        """Columns not given take their neutral value; ``duration`` defaults to
        ``deletion_time - creation_time``."""
        names = _objects(name)
        n = len(names)

        def full(value: Any, dtype: Any) -> NDArray[Any]:
            if isinstance(value, str):
                return _filled(value, n, object)
            return np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()

        nan = np.full(n, np.nan)
        created = nan if creation_time is None else np.asarray(creation_time, dtype=np.float64)
        deleted = nan if deletion_time is None else np.asarray(deletion_time, dtype=np.float64)
        if gpu_models is None:
            models = np.empty(n, dtype=object)
            models.fill(())
        else:
            models = np.asarray(gpu_models, dtype=object)
        return cls(
            name=names,
            cpu_milli=np.asarray(cpu_milli, dtype=np.int64),
            memory_bytes=np.asarray(memory_bytes, dtype=np.int64),
            num_gpu=full(0 if num_gpu is None else num_gpu, np.int32),
            gpu_milli=full(0 if gpu_milli is None else gpu_milli, np.int32),
            gpu_models=models,
            priority=full(priority, np.int32),
            qos=full(qos, object),
            phase=full(phase, object),
            group=full(group, object),
            max_per_node=full(max_per_node, np.int32),
            creation_time=created,
            deletion_time=deleted,
            duration=deleted - created if duration is None else np.asarray(duration, np.float64),
            scheduled_time=nan if scheduled_time is None else np.asarray(scheduled_time),
            extended=dict(extended or {}),  # type: ignore[arg-type]
        )

    def __len__(self) -> int:
        return len(self.name)

    def subset(self, idx: Index) -> PodTable:
        rows = _rows(idx, len(self))
        columns: dict[str, Any] = {
            f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name != "extended"
        }
        return PodTable(**columns, extended={k: v[rows] for k, v in self.extended.items()})

    def equals(self, other: PodTable) -> bool:
        return _tables_equal(self, other)

    def pod_dict(self, i: int, namespace: str = "default") -> dict[str, Any]:
        """Pod ``i`` as Kubernetes JSON. A zero request is left out; GPU needs are
        Open-Gpu-Share annotations, as the FGD simulator writes them."""
        requests: dict[str, str] = {}
        if self.cpu_milli[i]:
            requests["cpu"] = f"{int(self.cpu_milli[i])}m"
        if self.memory_bytes[i]:
            requests["memory"] = memory_quantity(int(self.memory_bytes[i]))
        for resource, amounts in self.extended.items():
            if amounts[i]:
                requests[resource] = str(int(amounts[i]))
        annotations: dict[str, str] = {}
        if self.num_gpu[i]:
            annotations[GPU_COUNT] = str(int(self.num_gpu[i]))
            annotations[GPU_MILLI] = str(int(self.gpu_milli[i]))
            if self.gpu_models[i]:
                annotations[GPU_CARD_MODEL] = "|".join(self.gpu_models[i])
        if self.qos[i]:
            annotations[QOS_ANNOTATION] = str(self.qos[i])
        if self.max_per_node[i]:
            annotations[MAX_PER_NODE_ANNOTATION] = str(int(self.max_per_node[i]))
        metadata: dict[str, Any] = {"name": str(self.name[i]), "namespace": namespace}
        if self.group[i]:
            metadata["labels"] = {GROUP_LABEL: str(self.group[i])}
        if annotations:
            metadata["annotations"] = annotations
        spec: dict[str, Any] = {
            "containers": [{"name": "main", "resources": {"requests": requests}}]
        }
        if self.priority[i]:
            spec["priority"] = int(self.priority[i])
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}

    def to_pods(self, namespace: str = "default") -> Iterator[Pod]:
        """``ksched.api.Pod`` objects, built one at a time."""
        from ksched.api import Pod

        for i in range(len(self)):
            yield Pod.model_validate(self.pod_dict(i, namespace))

    def summary(self) -> dict[str, Any]:
        """Totals a trace README publishes, for checking a load against it."""
        sizes, pods = np.unique(self.num_gpu, return_counts=True)
        sharing = (self.num_gpu == 1) & (self.gpu_milli > 0) & (self.gpu_milli < 1000)
        return {
            "pods": len(self),
            "cpu_milli": int(self.cpu_milli.sum()),
            "memory_bytes": int(self.memory_bytes.sum()),
            "gpu_milli": int((self.num_gpu.astype(np.int64) * self.gpu_milli).sum()),
            "pods_by_num_gpu": {int(s): int(c) for s, c in zip(sizes, pods, strict=True)},
            "sharing_pods": int(sharing.sum()),
        }


def _tables_equal(a: NodeTable | PodTable, b: NodeTable | PodTable) -> bool:
    if type(a) is not type(b):
        return False
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "extended":
            if x.keys() != y.keys() or not all(_same(x[k], y[k]) for k in x):
                return False
        elif f.name == "labels":
            if (x is None) != (y is None) or (x is not None and list(x) != list(y)):
                return False
        elif not _same(x, y):
            return False
    return True


@dataclass(frozen=True, eq=False)
class Workload:
    """A cluster (``nodes``) and the pods submitted to it, plus free-form ``meta``
    (source files, units chosen, counts of rows a loader normalised)."""

    name: str
    nodes: NodeTable
    pods: PodTable
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pods)

    def subset(self, idx: Index) -> Workload:
        """The same cluster with only the selected pods."""
        return Workload(self.name, self.nodes, self.pods.subset(idx), dict(self.meta))

    def to_pods(self, namespace: str = "default") -> Iterator[Pod]:
        return self.pods.to_pods(namespace)

    def to_nodes(self) -> Iterator[Node]:
        return self.nodes.to_nodes()

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "nodes": self.nodes.summary(), "pods": self.pods.summary()}

    def to_parquet(self, directory: str | Path) -> Path:
        """Write ``nodes.parquet``, ``pods.parquet`` and ``workload.json`` (name,
        meta) into ``directory``; ``meta`` must be JSON-serialisable."""
        from ksched.traces import _parquet

        return _parquet.write(self, Path(directory))

    @classmethod
    def from_parquet(cls, directory: str | Path) -> Workload:
        """Read what ``to_parquet`` wrote."""
        from ksched.traces import _parquet

        return _parquet.read(Path(directory))
