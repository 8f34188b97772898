"""Fill partly used GPUs first, then used nodes, then empty ones (FGD paper baseline)."""

from ksched_gpupacking.gpu_packing import NAME, GpuPackingScore, new

__all__ = ["NAME", "GpuPackingScore", "new"]
