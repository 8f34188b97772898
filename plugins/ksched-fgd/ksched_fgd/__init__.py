"""Fragmentation gradient descent: the FGD paper's (USENIX ATC '23) GPU-sharing policy."""

from ksched_fgd.fgd import NAME, FGDScore, new

__all__ = ["NAME", "FGDScore", "new"]
