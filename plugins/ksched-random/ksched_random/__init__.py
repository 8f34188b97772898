"""One feasible node, drawn uniformly, gets the maximum score (the FGD paper's Random baseline)."""

from ksched_random.random_score import NAME, RandomScore, new

__all__ = ["NAME", "RandomScore", "new"]
