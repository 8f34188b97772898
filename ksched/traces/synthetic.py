"""A seeded synthetic workload calibrated to the openb GPU trace: the default workload.

It needs no data files, scales to millions of pods (every column is drawn
with one vectorised call), and is the same for the same seed. Each
distribution below cites the statistic it reproduces: published numbers from
the trace README (/work/shared/traces/README.md, "alibaba-gpu-2023") where
the README gives them, otherwise aggregates computed once from
``openb_pod_list_default.csv`` / ``openb_node_list_all_node.csv`` and written
down here as constants (no trace rows are embedded).

Arrivals are a Poisson process. Its rate is set so that the offered GPU load,
rate x mean lifetime x mean GPU request, is ``load`` times the cluster's GPU
capacity, because a trace's own arrival rate only makes sense for its own
cluster size.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

from ksched.traces.workload import MIB, NodeTable, PodTable, Workload

__all__ = ["synthetic"]

# Node shapes of openb_node_list_all_node.csv, counted: (GPU model, GPUs,
# cpu_milli, memory_mib) -> nodes. They reproduce the README's totals: 1523
# nodes, 310 CPU-only, 6212 GPUs; GPU nodes by GPU count 24 / 518 / 54 / 617
# (1 / 2 / 4 / 8 GPUs); GPUs by model G2 4392, T4 842, G3 312, P100 265,
# V100M32 204, V100M16 195, A10 2.
_NODE_SHAPES: Final = (
    ("G2", 8, 96000, 393216, 549),
    ("T4", 2, 104000, 524288, 387),
    ("T4", 4, 96000, 393216, 17),
    ("P100", 2, 16000, 122880, 107),
    ("P100", 2, 64000, 262144, 22),
    ("P100", 2, 8000, 61440, 2),
    ("P100", 1, 8000, 61440, 3),
    ("G3", 8, 128000, 786432, 39),
    ("V100M16", 4, 32000, 131072, 28),
    ("V100M16", 1, 8000, 32768, 19),
    ("V100M16", 8, 64000, 262144, 7),
    ("V100M16", 8, 82000, 344064, 1),
    ("V100M32", 8, 96000, 786432, 21),
    ("V100M32", 4, 48000, 376832, 9),
    ("A10", 1, 128000, 1048576, 2),
    ("", 0, 32000, 262144, 129),
    ("", 0, 96000, 524288, 59),
    ("", 0, 96000, 393216, 30),
    ("", 0, 32000, 131072, 23),
    ("", 0, 64000, 524288, 22),
    ("", 0, 104000, 524288, 20),
    ("", 0, 32000, 65536, 10),
    ("", 0, 64000, 262144, 8),
    ("", 0, 64000, 131072, 4),
    ("", 0, 104000, 786432, 3),
    ("", 0, 96000, 786432, 1),
    ("", 0, 104000, 196608, 1),
)

# Pod classes in openb_pod_list_default.csv (README table, 8152 pods):
# num_gpu = 0 / 1 / 2 / 4 / 8 is 1088 / 6989 / 16 / 15 / 44, and 3078 of the
# one-GPU pods share a GPU (gpu_milli < 1000).
_CPU_ONLY, _SHARING, _ONE_GPU, _TWO_GPU, _FOUR_GPU, _EIGHT_GPU = range(6)
_CLASS_PODS: Final = (1088, 3078, 6989 - 3078, 16, 15, 44)
_CLASS_GPUS: Final = (0, 1, 1, 2, 4, 8)

# gpu_milli of sharing pods: the values are the README's list; the counts are
# their frequencies in openb_pod_list_default.csv.
_SHARE_MILLI: Final = {
    50: 7, 110: 24, 140: 1, 160: 74, 220: 62, 230: 140, 270: 4, 290: 1, 320: 328,
    330: 7, 350: 6, 370: 47, 440: 2, 460: 128, 470: 750, 480: 19, 550: 72, 590: 75,
    650: 253, 810: 1078,
}  # fmt: skip

# log(cpu_milli) per class in openb_pod_list_default.csv: (mean, std). Multi-GPU
# pods are drawn per GPU: their median is 8100 (2 GPUs), 8050 (4), 11000 (8)
# millicores per GPU.
_CPU_LOG: Final = {_CPU_ONLY: (9.658, 0.482), _SHARING: (8.550, 0.548), _ONE_GPU: (9.193, 0.548)}
_CPU_PER_GPU_LOG: Final = (math.log(10_000), 0.4)
# Pods are replicas of a few templates: openb_pod_list_default.csv holds 151
# distinct (cpu, memory, GPUs, gpu_milli) requests among 8152 pods, and per class
# 25 / 19 / 60 / 5 / 3 / 5 distinct (cpu, memory) pairs among 1088 / 3078 / 3911 /
# 16 / 15 / 44 pods. Each class draws its pods' templates from a Chinese restaurant
# process (Pitman, "Combinatorial Stochastic Processes", 2006, ch. 3), whose expected
# number of templates in n pods is sum_{i<n} theta / (theta + i); theta solves it for
# those counts. gpu_milli stays drawn per pod, so its distribution is the trace's.
_TEMPLATE_THETA: Final = (4.45, 2.61, 9.96, 2.1, 0.82, 1.24)
# Stick-breaking stops when the sticks left hold less than this share of the pods.
_STICK_TAIL: Final = 1e-12
# Memory per requested core in openb_pod_list_default.csv: median 3815 to 4222
# MiB across classes, 10th-90th percentile 1536 to 4588 MiB.
_MIB_PER_CORE_LOG: Final = (math.log(4000), 0.45)
# The largest node shape bounds a request, so every pod fits somewhere.
_MAX_CPU_MILLI: Final = 128_000
_MAX_MEMORY_MIB: Final = 786_432

# Lifetime (deletion - creation): the README gives the median, 540 s, and the
# maximum, 12,537,496 s; the spread is the std of log lifetime in
# openb_pod_list_default.csv, 1.88.
_LIFETIME_MEDIAN_S: Final = 540.0
_LIFETIME_LOG_STD: Final = 1.88
_LIFETIME_MAX_S: Final = 12_537_496.0

# qos in openb_pod_list_default.csv (README): LS 4647, BE 3398, Burstable 100,
# Guaranteed 7.
_QOS: Final = {"LS": 4647, "BE": 3398, "Burstable": 100, "Guaranteed": 7}


def _p(counts: tuple[int, ...] | list[int]) -> NDArray[np.float64]:
    c = np.asarray(counts, dtype=np.float64)
    return np.asarray(c / c.sum(), dtype=np.float64)


def _nodes(rng: np.random.Generator, n: int, gpu_nodes_only: bool, max_pods: int) -> NodeTable:
    shapes = [s for s in _NODE_SHAPES if s[1] > 0 or not gpu_nodes_only]
    pick = rng.choice(len(shapes), size=n, p=_p([s[4] for s in shapes]))
    model, gpus, cpu, mem = (np.asarray([s[k] for s in shapes])[pick] for k in range(4))
    return NodeTable.from_columns(
        name=[f"syn-node-{i:05d}" for i in range(n)],
        cpu_milli=cpu.astype(np.int64),
        memory_bytes=mem.astype(np.int64) * MIB,
        gpu_count=gpus,
        gpu_model=model.astype(object),
        max_pods=max_pods,
    )


def _lognormal(
    rng: np.random.Generator, mean_std: tuple[float, float], n: int
) -> NDArray[np.float64]:
    return rng.lognormal(mean_std[0], mean_std[1], size=n)


def _requests(
    rng: np.random.Generator, klass: NDArray[np.intp], templates: bool
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int32], NDArray[np.int32]]:
    n = len(klass)
    num_gpu = np.asarray(_CLASS_GPUS, dtype=np.int32)[klass]
    gpu_milli = np.where(num_gpu > 0, 1000, 0).astype(np.int32)
    sharing = klass == _SHARING
    values = np.asarray(list(_SHARE_MILLI), dtype=np.int32)
    gpu_milli[sharing] = rng.choice(
        values, size=int(sharing.sum()), p=_p(list(_SHARE_MILLI.values()))
    )
    cpu = num_gpu * _lognormal(rng, _CPU_PER_GPU_LOG, n)
    for k, mean_std in _CPU_LOG.items():
        mask = klass == k
        cpu[mask] = _lognormal(rng, mean_std, int(mask.sum()))
    # The trace's requests are whole multiples of 100 millicores (or close).
    cpu_milli = np.clip(np.rint(cpu / 100) * 100, 100, _MAX_CPU_MILLI).astype(np.int64)
    mib = np.rint(cpu_milli / 1000 * _lognormal(rng, _MIB_PER_CORE_LOG, n))
    memory_bytes = np.clip(mib, 1, _MAX_MEMORY_MIB).astype(np.int64) * MIB
    if templates:
        for k, theta in enumerate(_TEMPLATE_THETA):
            members = (klass == k).nonzero()[0]
            # Every pod takes the requests of its template's first pod.
            src = members[_template_firsts(rng, theta, len(members))]
            for column in (cpu_milli, memory_bytes):
                column[members] = column[src]
    return cpu_milli, memory_bytes, num_gpu, gpu_milli


def _template_firsts(rng: np.random.Generator, theta: float, n: int) -> NDArray[np.intp]:
    """For each of ``n`` pods, the position of the first pod of its template.

    Templates are the tables of a Chinese restaurant process of concentration
    ``theta``, drawn at once by stick-breaking (GEM(theta) weights, Pitman 2006, 3.2).
    """
    if n == 0:
        return np.zeros(0, dtype=np.intp)
    count = max(1, math.ceil(theta * math.log(1 / _STICK_TAIL)) + 1)
    breaks = rng.beta(1.0, theta, size=count)
    left = np.concatenate(([1.0], np.cumprod(1.0 - breaks)[:-1]))
    weights = breaks * left
    weights[-1] += max(0.0, 1.0 - float(weights.sum()))
    template = rng.choice(count, size=n, p=weights / weights.sum())
    _, first, inverse = np.unique(template, return_index=True, return_inverse=True)
    return np.asarray(first[inverse], dtype=np.intp)


def _constraints(
    rng: np.random.Generator, nodes: NodeTable, num_gpu: NDArray[np.int32], share: float
) -> NDArray[np.object_]:
    """Pin ``share`` of the GPU pods to one model, drawn by the cluster's GPUs per model."""
    by_model = nodes.summary()["gpus_by_model"]
    choices = np.empty(len(by_model) + 1, dtype=object)
    choices[0] = ()
    for i, model in enumerate(by_model, start=1):
        choices[i] = (model,)
    code = np.zeros(len(num_gpu), dtype=np.intp)
    if share > 0 and by_model:
        pinned = (num_gpu > 0) & (rng.random(len(num_gpu)) < share)
        weights = _p(list(by_model.values()))
        code[pinned] = 1 + rng.choice(len(by_model), size=int(pinned.sum()), p=weights)
    return np.asarray(choices[code], dtype=object)


def synthetic(
    n_nodes: int = 1523,
    n_pods: int = 8152,
    seed: int = 0,
    *,
    load: float = 0.9,
    arrival_rate: float | None = None,
    gpu_nodes_only: bool = False,
    gpu_spec_share: float = 0.0,
    max_pods: int = 110,
    templates: bool = True,
) -> Workload:
    """A workload of ``n_pods`` pods arriving on ``n_nodes`` openb-like nodes.

    ``arrival_rate`` (pods/s) overrides the rate derived from ``load`` (offered
    GPU demand as a fraction of GPU capacity). ``gpu_spec_share`` of the GPU
    pods get a one-model ``gpu_models`` constraint, as the trace's ``gpuspec``
    variants add. The defaults mirror the size of openb's default workload.
    ``templates``: pods repeat a few request shapes, as the trace's do (False:
    every pod's requests drawn on its own, nearly all distinct).
    """
    for param, value, ok in (
        ("n_nodes", n_nodes, n_nodes >= 1),
        ("n_pods", n_pods, n_pods >= 0),
        ("load", load, load > 0),
        ("gpu_spec_share", gpu_spec_share, 0 <= gpu_spec_share <= 1),
        ("arrival_rate", arrival_rate, arrival_rate is None or arrival_rate > 0),
        ("max_pods", max_pods, max_pods >= 1),
    ):
        if not ok:
            raise ValueError(
                f"The {param!r} parameter of synthetic is out of range. Got {value!r} instead."
            )
    rng = np.random.default_rng(seed)
    nodes = _nodes(rng, n_nodes, gpu_nodes_only, max_pods)
    klass = rng.choice(len(_CLASS_PODS), size=n_pods, p=_p(_CLASS_PODS))
    cpu_milli, memory_bytes, num_gpu, gpu_milli = _requests(rng, klass, templates)
    lifetime = np.clip(
        rng.lognormal(math.log(_LIFETIME_MEDIAN_S), _LIFETIME_LOG_STD, size=n_pods),
        1.0,
        _LIFETIME_MAX_S,
    )
    if arrival_rate is None:
        gpu_capacity = 1000.0 * float(nodes.gpu_count.sum())
        mean_gpu = float(np.dot(_p(_CLASS_PODS), _class_mean_gpu_milli()))
        mean_life = _LIFETIME_MEDIAN_S * math.exp(_LIFETIME_LOG_STD**2 / 2)
        # A GPU-less cluster has no GPU load to aim at; fall back to one pod a second.
        arrival_rate = load * gpu_capacity / (mean_gpu * mean_life) if gpu_capacity else 1.0
    created = np.cumsum(rng.exponential(1.0 / arrival_rate, size=n_pods))
    qos_names = np.asarray(list(_QOS), dtype=object)
    qos = qos_names[rng.choice(len(qos_names), size=n_pods, p=_p(list(_QOS.values())))]
    pods = PodTable.from_columns(
        name=[f"syn-pod-{i:07d}" for i in range(n_pods)],
        cpu_milli=cpu_milli,
        memory_bytes=memory_bytes,
        num_gpu=num_gpu,
        gpu_milli=gpu_milli,
        gpu_models=_constraints(rng, nodes, num_gpu, gpu_spec_share),
        qos=qos,
        creation_time=created,
        deletion_time=created + lifetime,
        duration=lifetime,
    )
    meta = {
        "generator": "ksched.traces.synthetic",
        "seed": seed,
        "calibration": "alibaba-gpu-2023 (openb) default workload",
        "arrival_rate": arrival_rate,
        "load": load,
        "templates": templates,
    }
    return Workload(name=f"synthetic-{seed}", nodes=nodes, pods=pods, meta=meta)


def _class_mean_gpu_milli() -> NDArray[np.float64]:
    share = np.asarray(list(_SHARE_MILLI), dtype=np.float64)
    mean_share = float(np.dot(share, _p(list(_SHARE_MILLI.values()))))
    means = [1000.0 * g for g in _CLASS_GPUS]
    means[_SHARING] = mean_share
    return np.asarray(means)
