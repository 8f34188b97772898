"""The node left with the least free CPU and GPU after placement (FGD paper baseline)."""

from ksched_bestfit.best_fit import NAME, BestFitScore, new

__all__ = ["NAME", "BestFitScore", "new"]
