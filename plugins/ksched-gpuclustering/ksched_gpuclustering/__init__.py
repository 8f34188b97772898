"""Keep pods of one GPU demand class together on fuller nodes (FGD paper baseline)."""

from ksched_gpuclustering.gpu_clustering import NAME, GpuClusteringScore, new

__all__ = ["NAME", "GpuClusteringScore", "new"]
