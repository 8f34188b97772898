"""helper.DefaultNormalizeScore: scale scores to [0, max] by the largest, optionally reversed.

Upstream pkg/scheduler/framework/plugins/helper/normalize_score.go.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ksched.framework.status import Status


def default_normalize_score(
    max_priority: int, reverse: bool, scores: NDArray[np.int64]
) -> Status | None:
    """Rewrite ``scores`` in place as ``max_priority * score / max`` (Go integer division).

    The largest score is taken from 0 up, as upstream, so when nothing is
    positive the scores stay as they are, or all become ``max_priority`` when
    reversed (no node is worse than another).
    """
    if not len(scores):
        return None
    top = max(int(scores[scores.argmax()]), 0)  # argmax: cheaper than max() on short arrays
    if top == 0:
        if reverse:
            scores.fill(max_priority)
        return None
    scaled = max_priority * scores
    # Go's int64 division truncates toward zero; floor division differs for negatives.
    scaled = np.sign(scaled) * (np.abs(scaled) // top)
    scores[:] = max_priority - scaled if reverse else scaled
    return None
