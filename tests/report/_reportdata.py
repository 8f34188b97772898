"""Small synthetic replay results in the format of ``ksched.sim.ReplayResult``.

``make_result`` builds every column the format names (not only those the
report reads), so the same fields can construct a real ``ReplayResult`` for
the round-trip test once ``ksched.sim`` exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

GPU_MILLI_PER_NODE = 8 * 1000


@dataclass(frozen=True)
class FakeResult:
    profile: str
    protocol: str
    trace: str
    seed: int
    summary: dict[str, float | int | str]
    pods: pd.DataFrame
    series: pd.DataFrame
    node_util: pd.DataFrame


MakeResult = Callable[..., FakeResult]


def make_result(
    profile: str,
    protocol: str = "arrival",
    *,
    seed: int = 0,
    pods: int = 60,
    nodes: int = 6,
    quality: float = 0.0,
    samples: int = 12,
) -> FakeResult:
    """A replay whose numbers improve with ``quality`` (fewer failures, less fragmentation)."""
    rng = np.random.default_rng(seed)
    timed = protocol == "time"
    index = np.arange(pods, dtype=np.float64)
    arrival = np.sort(rng.uniform(0, 5_000, pods)) if timed else index
    failed = rng.random(pods) < max(0.0, 0.3 - quality)
    delay = np.where(failed, np.nan, rng.exponential(30.0, pods) if timed else 0.0)
    if timed:
        delay[::7] = np.where(failed[::7], np.nan, 0.0)
    scheduled = arrival + delay
    finish = scheduled + rng.uniform(60, 3_600, pods) if timed else np.full(pods, np.nan)
    num_gpu = rng.integers(0, 3, pods)
    gpu_milli = np.where(num_gpu == 1, rng.choice([250, 500, 1000], pods), 1000) * (num_gpu > 0)
    node_names = [f"node-{i:02d}" for i in range(nodes)]
    pod_df = pd.DataFrame(
        {
            "name": [f"pod-{i}" for i in range(pods)],
            "arrival_time": arrival,
            "scheduled_time": scheduled,
            "finish_time": np.where(failed, np.nan, finish),
            "node": ["" if f else node_names[i % nodes] for i, f in enumerate(failed)],
            "attempts": rng.integers(1, 4, pods),
            "failed": failed,
            "queue_delay_s": delay,
            "sched_latency_us": rng.lognormal(np.log(300.0 / (1 + quality)), 0.8, pods),
            "cpu_milli": rng.integers(500, 16_000, pods),
            "memory_bytes": rng.integers(1, 64, pods) * 2**30,
            "num_gpu": num_gpu,
            "gpu_milli": gpu_milli,
        }
    )
    cluster_gpu = nodes * GPU_MILLI_PER_NODE
    requested = np.cumsum(num_gpu * gpu_milli) / cluster_gpu * 100
    placed = np.cumsum(np.where(failed, 0, num_gpu * gpu_milli)) / cluster_gpu * 100
    gpu_alloc = np.minimum(placed, 95.0) if not timed else 40 + 20 * np.sin(index / 9)
    series = pd.DataFrame(
        {
            "time": arrival,
            "arrived_gpu_pct": requested,
            "gpu_alloc_pct": gpu_alloc,
            "cpu_alloc_pct": gpu_alloc * 0.6,
            "mem_alloc_pct": gpu_alloc * 0.4,
            "gpu_frag_pct": np.clip(requested * (0.15 - quality / 10), 0, None),
            "pods_running": np.cumsum(~failed),
            "pods_pending": np.cumsum(failed),
        }
    )
    times = np.linspace(0, float(arrival[-1]), samples)
    node_util = pd.DataFrame(
        {
            "time": np.repeat(times, nodes),
            "node": node_names * samples,
            "cpu_pct": rng.uniform(0, 100, samples * nodes),
            "mem_pct": rng.uniform(0, 100, samples * nodes),
            "gpu_pct": rng.choice([0.0, 12.5, 50.0, 100.0], samples * nodes),
        }
    )
    summary: dict[str, float | int | str] = {
        "pods_total": pods,
        "pods_placed": int((~failed).sum()),
        "pods_failed": int(failed.sum()),
        "pods_pending_at_end": 0,
        "gpu_alloc_pct_final": float(gpu_alloc[-1]),
        "cpu_alloc_pct_final": float(gpu_alloc[-1] * 0.6),
        "mem_alloc_pct_final": float(gpu_alloc[-1] * 0.4),
        "gpu_frag_pct_final": float(series["gpu_frag_pct"].iloc[-1]),
        "sched_latency_p50_us": float(pod_df["sched_latency_us"].median()),
        "sched_latency_p99_us": float(pod_df["sched_latency_us"].quantile(0.99)),
        "throughput_pods_per_s": 1e6 / float(pod_df["sched_latency_us"].mean()),
        "wall_seconds": 0.5 + seed / 10,
    }
    if timed:
        jct = pod_df["finish_time"] - pod_df["arrival_time"]
        summary |= {
            "queue_delay_p50_s": float(pod_df["queue_delay_s"].median()),
            "queue_delay_p99_s": float(pod_df["queue_delay_s"].quantile(0.99)),
            "jct_mean_s": float(jct.mean()),
            "jct_p50_s": float(jct.median()),
            "makespan_s": float(pod_df["finish_time"].max()),
        }
    return FakeResult(
        profile, protocol, "synthetic-openb", seed, summary, pod_df, series, node_util
    )
