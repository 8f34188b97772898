"""helper.DefaultNormalizeScore: scale to [0, max] by the largest score, optionally reversed."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ksched.framework.interface import MAX_NODE_SCORE


def default_normalize_score(
    scores: NDArray[np.int64], reverse: bool, max_priority: int = MAX_NODE_SCORE
) -> None:
    """In place, as upstream: all-zero scores stay 0 (or become max when reversed)."""
    if not len(scores):
        return
    top = int(scores.max())
    if top <= 0:
        if reverse:
            scores[:] = max_priority
        return
    scaled = max_priority * scores // top
    scores[:] = max_priority - scaled if reverse else scaled
