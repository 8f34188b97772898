"""``GpuShareScore``: the base of a score plugin that ranks nodes by their GPU-share layout.

The FGD paper's policies (``plugins/ksched-*``) all score a node from the
same state: its free share per GPU, free CPU and GPU pod classes
(``NodeView``). The base holds that state (``GpuShareState.of``), brings it
up to date once per call and passes the view to ``formula``, so a policy
package writes its formula and its name, nothing else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.plugins.gpushare.request import GPU_ANNOTATIONS, GpuRequest, gpu_request
from ksched.framework.plugins.gpushare.state import GpuShareState, NodeView
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeSet

__all__ = ["GpuShareScore"]


class GpuShareScore(ABC):
    """A vectorised Score over ``NodeView``; a subclass gives ``plugin_name`` and ``formula``.

    ``plugin_name``: what ``name`` answers, the module's ``NAME``.
    ``no_gpu_score``: what a pod that asks for no GPU scores on every node,
    answered without building a view; None (the default) passes such a pod
    to ``formula`` with ``gpu`` None. The module's ``new(args,
    handle)`` factory constructs it with the framework ``handle``.
    """

    # A view row holds only its own node's state, so a node's score may be cached by pod shape.
    node_local: ClassVar[bool] = True
    # The pod annotations it reads: a subclass whose formula reads another must add it.
    pod_annotations: ClassVar[frozenset[str]] = GPU_ANNOTATIONS
    plugin_name: ClassVar[str]
    no_gpu_score: ClassVar[int | None] = None

    def __init__(self, handle: Any) -> None:
        self.gpus = GpuShareState.of(handle.snapshot)

    @property
    def name(self) -> str:
        return self.plugin_name

    @abstractmethod
    def formula(self, pod: PodInfo, gpu: GpuRequest | None, view: NodeView) -> NDArray[np.int64]:
        """Scores of the nodes of ``view``, in order, for ``pod``, whose GPU request is ``gpu``."""

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        request = gpu_request(pod)
        if request is None and self.no_gpu_score is not None:
            return np.full(len(nodes), self.no_gpu_score, dtype=np.int64)
        self.gpus.sync()
        return self.formula(pod, request, self.gpus.view(nodes))
