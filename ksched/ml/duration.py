"""Features a job's duration is predicted from: what the pod asks for, known at submission.

The same columns come from a trace's ``PodTable`` (training, vectorised)
and from one ``PodInfo`` (the queue, at sort time): requests, the
Open-Gpu-Share GPU annotations, the QoS annotation, GPU-model constraints
and priority. The tests hold the two forms equal.
"""

from __future__ import annotations

import hashlib
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.pod_info import PodInfo
from ksched.ml.features import pod_shape
from ksched.traces.workload import QOS_ANNOTATION, PodTable

__all__ = [
    "DURATION_FEATURES",
    "QOS_CLASSES",
    "duration_features",
    "duration_schema_hash",
    "pod_duration_features",
]

GIB: Final = 2**30
QOS_CLASSES: Final = ("LS", "BE", "Burstable", "Guaranteed")
DURATION_FEATURES: Final[tuple[str, ...]] = (
    "cpu_cores",
    "log_memory_gib",
    "num_gpu",
    "gpu_share",
    "gpu_total",
    *(f"qos_{q}" for q in QOS_CLASSES),
    "gpu_models",
    "priority",
)


def duration_schema_hash() -> str:
    return hashlib.sha256(("duration-v1:" + ",".join(DURATION_FEATURES)).encode()).hexdigest()[:16]


def duration_features(table: PodTable) -> NDArray[np.float64]:
    """(pods x DURATION_FEATURES) for every row of ``table``."""
    n = len(table)
    num = table.num_gpu.astype(np.float64)
    share = np.where(num > 0, table.gpu_milli, 0).astype(np.float64) / 1000
    out = np.empty((n, len(DURATION_FEATURES)), dtype=np.float64)
    out[:, 0] = table.cpu_milli / 1000
    out[:, 1] = np.log1p(table.memory_bytes / GIB)
    out[:, 2] = num
    out[:, 3] = share
    out[:, 4] = num * share
    qos = table.qos.astype(str)
    for k, q in enumerate(QOS_CLASSES):
        out[:, 5 + k] = qos == q
    out[:, 9] = [len(m) if g else 0 for m, g in zip(table.gpu_models, num, strict=True)]
    out[:, 10] = table.priority
    return out


def pod_duration_features(pod: PodInfo) -> NDArray[np.float64]:
    """One pod's row of ``duration_features``, read from the pod object."""
    shape = pod_shape(pod)
    share = shape.gpu_milli / 1000 if shape.num_gpu else 0.0
    qos = pod.pod.metadata.annotations.get(QOS_ANNOTATION, "")
    return np.asarray(
        [
            shape.cpu / 1000,
            np.log1p(shape.memory / GIB),
            shape.num_gpu,
            share,
            shape.num_gpu * share,
            *(float(qos == q) for q in QOS_CLASSES),
            len(shape.gpu_models) if shape.num_gpu else 0,
            pod.priority,
        ],
        dtype=np.float64,
    )
