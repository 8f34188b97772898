"""The Node objects a simulated kubelet registers: from a trace's node table or from flags."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ksched.traces.workload import NodeTable

__all__ = ["NODE_LABEL", "node_ip", "nodes_from_flags", "nodes_from_table", "pod_ip"]

# Marks nodes a simulated kubelet runs (as KWOK's ``type: kwok`` annotation does).
NODE_LABEL: Final = "ksched.io/simulated"
_NODE_NET: Final = int(ipaddress.IPv4Address("10.128.0.0"))
_POD_NET: Final = int(ipaddress.IPv4Address("10.0.0.0"))


def node_ip(index: int) -> str:
    return str(ipaddress.IPv4Address(_NODE_NET + index + 1))


def pod_ip(node_index: int, serial: int) -> str:
    """A pod address in node ``node_index``'s /24 (253 pods, then it wraps)."""
    return str(ipaddress.IPv4Address(_POD_NET + (node_index % 32768) * 256 + serial % 253 + 2))


def _complete(d: dict[str, Any], index: int) -> dict[str, Any]:
    meta = d.setdefault("metadata", {})
    meta.setdefault("labels", {}).update(
        {
            "kubernetes.io/hostname": meta["name"],
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            NODE_LABEL: "true",
        }
    )
    status = d.setdefault("status", {})
    status["addresses"] = [
        {"type": "InternalIP", "address": node_ip(index)},
        {"type": "Hostname", "address": meta["name"]},
    ]
    status["nodeInfo"] = {
        "architecture": "amd64",
        "operatingSystem": "linux",
        "kubeletVersion": "ksched-kubelet",
        "kubeProxyVersion": "",
        "containerRuntimeVersion": "ksched://simulated",
        "osImage": "simulated",
        "kernelVersion": "",
        "machineID": "",
        "systemUUID": "",
        "bootID": "",
    }
    d["apiVersion"], d["kind"] = "v1", "Node"
    return d


def nodes_from_table(table: NodeTable) -> list[dict[str, Any]]:
    """One Node per row, capacity and labels as ``NodeTable.node_dict`` writes them."""
    return [_complete(table.node_dict(i), i) for i in range(len(table))]


def nodes_from_flags(
    count: int, *, prefix: str = "node-", cpu: str = "32", memory: str = "256Gi", pods: int = 110
) -> list[dict[str, Any]]:
    """``count`` identical nodes named ``<prefix><i>``."""
    if count < 0:
        raise ValueError(f"The 'count' parameter must be >= 0. Got {count!r} instead.")
    width = len(str(max(count - 1, 0)))
    out = []
    for i in range(count):
        capacity = {"cpu": cpu, "memory": memory, "pods": str(pods)}
        d = {
            "metadata": {"name": f"{prefix}{i:0{width}d}"},
            "status": {"capacity": capacity, "allocatable": dict(capacity)},
        }
        out.append(_complete(d, i))
    return out
