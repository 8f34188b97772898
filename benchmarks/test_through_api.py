"""A trace replayed through the whole stack: ``ksched apiserver``, ksched, simulated kubelets.

Every component is its own process (``ksched cluster``); the replay creates
the pods through the API as fast as it can (arrival times compressed to
zero), ksched binds them through ``pods/binding``, the kubelet runs each
for its trace duration compressed likewise (milliseconds) and reports
Succeeded; 32 threads create the pods. Target: 1,000 pods bound per second
(kube-scheduler's scheduler_perf floor for 5,000 nodes is 680 pods/s).

Default size: a synthetic openb-shaped trace of 500 nodes and 3,000 pods;
``KSCHED_BENCH_LARGE=1`` replays the full synthetic trace (1,523 nodes,
8,152 pods). ``extra_info``: bound pods/s (first create to last bind),
scheduler_perf's SchedulingThroughput (``ksched.sim.throughput``), completed
pods/s, create-to-bind latency p50/p99, the CPU seconds each process
spent, and the API requests the replay cost (the server's
``apiserver_request_total``, per pod and by verb and resource), which say
where the time goes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kubernetes import config
from prometheus_client.parser import text_string_to_metric_families

from ksched.cluster.replay import ApiReplay
from ksched.cluster.up import Cluster, ClusterOptions
from ksched.traces import synthetic
from ksched.traces.workload import Workload

LARGE = os.environ.get("KSCHED_BENCH_LARGE") == "1"
COMPRESSION = 1e7  # every arrival at once, durations of a few hundred microseconds
# Pods created concurrently: enough that creation keeps the stack busy (with 8 creators
# the create round trip, not the stack's CPU, set the pace: 140 bound pods/s against 173).
CREATORS = 32


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _requests(kubeconfig: Path) -> dict[str, float]:
    """``apiserver_request_total`` by "VERB resource[/subresource]", from the server's /metrics."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        cfg = api.configuration
        headers = {"Authorization": cfg.api_key.get("authorization", "")}
        text = api.rest_client.pool_manager.request("GET", f"{cfg.host}/metrics", headers=headers)
    finally:
        api.close()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text.data.decode()):
        for sample in family.samples:
            if sample.name == "apiserver_request_total":
                labels = sample.labels
                sub = f"/{labels['subresource']}" if labels["subresource"] else ""
                key = f"{labels['verb']} {labels['resource']}{sub}"
                out[key] = out.get(key, 0.0) + sample.value
    return out


def test_trace_through_api(benchmark: Any, tmp_path: Path) -> None:
    workload = (
        synthetic(n_nodes=1523, n_pods=8152) if LARGE else synthetic(n_nodes=500, n_pods=3000)
    )
    trace = tmp_path / "trace"
    workload.to_parquet(trace)
    options = ClusterOptions(directory=tmp_path / "cluster", trace=str(trace), start_timeout=180)
    with Cluster(options) as cluster:
        before = {c.name: _cpu_seconds(c.pid) for c in cluster.components}
        requests_before = _requests(cluster.kubeconfig)
        replay = ApiReplay(
            Workload.from_parquet(trace),
            str(cluster.kubeconfig),
            time_compression=COMPRESSION,
            creators=CREATORS,
        )
        start = os.times()
        result = benchmark.pedantic(replay.run, rounds=1, iterations=1)
        spent = os.times()
        cpu = {c.name: _cpu_seconds(c.pid) - before[c.name] for c in cluster.components}
        requests = {
            k: v - requests_before.get(k, 0.0) for k, v in _requests(cluster.kubeconfig).items()
        }
    s = result.summary
    assert s["pods_placed"] == len(workload.pods)
    assert s["create_errors"] == 0
    cpu["replay"] = spent.user + spent.system - start.user - start.system
    benchmark.extra_info.update(
        nodes=len(workload.nodes),
        pods=len(workload.pods),
        bound_pods_per_second=round(float(s["throughput_pods_per_s"]), 1),
        # scheduler_perf's SchedulingThroughput: per-second samples up to the last binding.
        scheduling_throughput={
            k.removeprefix("scheduling_throughput_"): round(float(v), 1)
            for k, v in s.items()
            if k.startswith("scheduling_throughput_")
        },
        completed_pods_per_second=round(float(s["completed_pods_per_s"]), 1),
        create_to_bind_p50_ms=round(float(s["sched_latency_p50_us"]) / 1000, 1),
        create_to_bind_p99_ms=round(float(s["sched_latency_p99_us"]) / 1000, 1),
        cpu_seconds={k: round(v, 1) for k, v in cpu.items()},
        cpu_ms_per_pod=round(1000 * sum(cpu.values()) / len(workload.pods), 2),
        api_requests_per_pod=round(sum(requests.values()) / len(workload.pods), 2),
        api_requests={k: int(v) for k, v in sorted(requests.items(), key=lambda kv: -kv[1]) if v},
        load_average_1m=os.getloadavg()[0],
        cores=os.cpu_count(),
    )
