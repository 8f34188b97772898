"""Small GPU-sharing clusters for the plugin contract kit and for tests.

``ksched.testing.default_scenarios`` knows nothing of Open-Gpu-Share; a
GPU-sharing score plugin is checked on these as well::

    check_plugin(module, scenarios=[*default_scenarios(), *gpu_scenarios()])
"""

from __future__ import annotations

from typing import Any

from ksched.framework.plugins.gpushare.request import (
    GPU_CARD_MODEL,
    GPU_COUNT,
    GPU_INDEX,
    GPU_MILLI,
    format_gpu_index,
)
from ksched.testing.scenarios import Scenario, node_json, pod_json

__all__ = ["gpu_node_json", "gpu_pod_json", "gpu_scenarios"]


def gpu_node_json(name: str, gpus: int, model: str = "V100", cpu: str = "32") -> dict[str, Any]:
    """A node with ``gpus`` GPUs of ``model``, in Open-Gpu-Share's resource names."""
    extended = {GPU_COUNT: str(gpus), GPU_MILLI: str(1000 * gpus)} if gpus else None
    labels = {GPU_CARD_MODEL: model} if gpus else None
    return node_json(name, cpu=cpu, memory="128Gi", labels=labels, extended=extended)


def gpu_pod_json(
    name: str,
    milli: int,
    count: int = 1,
    *,
    cpu: str = "1",
    models: tuple[str, ...] = (),
    node_name: str = "",
    indices: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """A pod asking for ``count`` GPUs with ``milli`` free each (bound when ``node_name``)."""
    pod = pod_json(name, cpu=cpu, memory="1Gi", node_name=node_name)
    annotations = {GPU_MILLI: str(milli), GPU_COUNT: str(count)}
    if models:
        annotations[GPU_CARD_MODEL] = "|".join(models)
    if indices is not None:
        annotations[GPU_INDEX] = format_gpu_index(indices)
    pod["metadata"]["annotations"] = annotations
    return pod


def gpu_scenarios() -> list[Scenario]:
    """Partly used GPU nodes of two models, one CPU-only node, pods of every GPU shape."""
    nodes = [
        gpu_node_json("gpu-a", 4, "V100"),
        gpu_node_json("gpu-b", 2, "T4", cpu="16"),
        gpu_node_json("gpu-c", 8, "V100", cpu="64"),
        gpu_node_json("cpu-only", 0),
    ]
    bound = [
        gpu_pod_json("share-1", 300, node_name="gpu-a", indices=(1,)),
        gpu_pod_json("share-2", 600, node_name="gpu-a", indices=(1,)),
        gpu_pod_json("whole-2", 1000, 2, node_name="gpu-c", indices=(0, 1)),
        gpu_pod_json("share-3", 500, node_name="gpu-b"),
    ]
    incoming = [
        gpu_pod_json("want-share", 250),
        gpu_pod_json("want-half-t4", 500, models=("T4",)),
        gpu_pod_json("want-one", 1000),
        gpu_pod_json("want-four", 1000, 4, cpu="4"),
        pod_json("cpu-only-pod", cpu="2", memory="1Gi"),
    ]
    return [Scenario("gpu-sharing", nodes, bound, incoming)]
