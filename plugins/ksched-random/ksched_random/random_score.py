"""RandomScore: one feasible node, drawn uniformly, gets the maximum score.

The FGD paper's Random baseline (Weng et al., ATC '23, section 6.1; the
simulator's ``random_score.go``): PreScore draws one of the feasible nodes
and Score gives it 100, every other node 0. Written as "all nodes score the
same", the smallest-name tie-break would turn it into first-fit
(NOTES-fgd-experiments.md, semantics item 2). Pair it with OpenGpuShare's
``gpuSelection: random`` so a GPU-sharing pod lands on a uniformly chosen
GPU with room.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.interface import MAX_NODE_SCORE, MIN_NODE_SCORE
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import Status

__all__ = ["NAME", "RandomScore", "new"]

NAME: Final = "RandomScore"
_STATE_KEY: Final = "PreScore" + NAME


class RandomScore:
    """Draws from the scheduler's seeded generator, so a replay is reproducible."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    @property
    def name(self) -> str:
        return NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Status | None:
        if len(nodes):
            state.write(_STATE_KEY, int(nodes.indices[int(self.rng.integers(len(nodes)))]))
        return None

    def _chosen(self, state: CycleState) -> int:
        row: int = state.read(_STATE_KEY)
        return row

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return MAX_NODE_SCORE if node.index == self._chosen(state) else MIN_NODE_SCORE

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        hit = nodes.indices == self._chosen(state)
        return np.where(hit, MAX_NODE_SCORE, MIN_NODE_SCORE).astype(np.int64)


def new(args: None, handle: Any) -> RandomScore:
    return RandomScore(handle.rng)
