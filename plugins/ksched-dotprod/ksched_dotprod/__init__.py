"""Tetris's dot-product alignment of a pod's demand with a node's free CPU and GPU."""

from ksched_dotprod.dot_product import NAME, DotProductScore, new

__all__ = ["NAME", "DotProductScore", "new"]
