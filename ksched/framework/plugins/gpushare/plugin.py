"""OpenGpuShare: place pods on individual GPUs, several pods sharing one GPU.

Open-Gpu-Share semantics as the FGD paper's simulator uses them
(``open_gpu_share.go`` and ``gpunodeinfo.go`` in hkust-adsl/kubernetes-scheduler-simulator):
a node has ``alibabacloud.com/gpu-count`` GPUs of one model (label
``alibabacloud.com/gpu-card-model``), each of 1000 milli-GPU; a pod asks for
``gpu-count`` GPUs with ``gpu-milli`` free each, optionally of allowed
models (``request.py``). Filter: enough individual GPUs have room and the
model is allowed. Reserve: choose which GPUs (``gpuSelection``) and write
them into the pod's ``alibabacloud.com/gpu-index`` annotation, as
Open-Gpu-Share does, so a device plugin on a real node can honour it;
Unreserve gives them back and removes the annotation.

``gpuSelection``: ``best`` (tightest GPU that fits), ``random`` (uniform
among GPUs with room), ``score`` (ask the profile's highest-weight score
plugin, which must implement ``select_gpus``) or ``auto`` (``score`` when
that plugin can answer, else ``best``: the simulator's rule).
"""

from __future__ import annotations

import weakref
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ksched.framework.cycle_state import CycleState
from ksched.framework.interface import PreFilterResult
from ksched.framework.plugins import names
from ksched.framework.plugins.gpushare.request import (
    GPU_ANNOTATIONS,
    GPU_INDEX,
    GpuRequest,
    GpuRequestError,
    format_gpu_index,
    gpu_request,
    parse_gpu_index,
)
from ksched.framework.plugins.gpushare.selection import best_fit, random_fit
from ksched.framework.plugins.gpushare.state import GpuShareState
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import SKIP, Code, Status

__all__ = [
    "ERR_REASON_MODEL",
    "ERR_REASON_NO_GPU",
    "ERR_REASON_NO_ROOM",
    "NAME",
    "Args",
    "OpenGpuShare",
    "OpenGpuShareArgs",
    "new",
]

NAME: Final = names.OPEN_GPU_SHARE
ERR_REASON_NO_GPU: Final = "node(s) had no GPU"
ERR_REASON_MODEL: Final = "node(s) didn't have an allowed GPU model"
ERR_REASON_NO_ROOM: Final = "node(s) didn't have enough GPUs with the requested share free"
_STATE_KEY: Final = "PreFilter" + NAME

GpuSelection = Literal["auto", "best", "random", "score"]


class OpenGpuShareArgs(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )

    gpu_selection: GpuSelection = "auto"


Args = OpenGpuShareArgs


class OpenGpuShare:
    """PreFilter, Filter, Reserve over per-GPU state (``GpuShareState``)."""

    # A node's verdict depends only on the pod and that node's GPUs (ksched.framework.equivalence).
    node_local = True
    pod_annotations = GPU_ANNOTATIONS
    filter_reason = ERR_REASON_NO_ROOM

    def __init__(self, args: OpenGpuShareArgs, handle: Any) -> None:
        self.args = args
        self.handle = handle
        self.gpus = GpuShareState.of(handle.snapshot)
        # (the framework, weakly: it owns this plugin; its selector)
        self._selected: tuple[weakref.ReferenceType[Any], Any] | None = None

    @property
    def name(self) -> str:
        return NAME

    # -- PreFilter / Filter ---------------------------------------------------------------
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[PreFilterResult | None, Status | None]:
        try:
            request = gpu_request(pod)
        except GpuRequestError as err:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (str(err),))
        if request is None:
            return None, SKIP  # a pod without GPUs passes every node, as Open-Gpu-Share
        state.write(_STATE_KEY, request)
        return None, None

    def _request(self, state: CycleState, pod: PodInfo) -> GpuRequest | None:
        hit: GpuRequest | None = state.get(_STATE_KEY)
        return hit if hit is not None else gpu_request(pod)

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.bool_]:
        request = self._request(state, pod)
        if request is None:
            return np.ones(len(nodes), dtype=bool)
        self.gpus.sync()
        return self.gpus.feasible(request, nodes.idx)

    def filter_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        """``filter_nodes`` for one node, for the few rows a cached class patches."""
        request = self._request(state, pod)
        if request is None:
            return 0
        gpus = self.gpus
        gpus.sync()
        row = node.index
        if request.models and gpus.models[int(gpus.model[row])] not in request.models:
            return int(Code.UNSCHEDULABLE)
        milli = request.milli
        room = sum(1 for free in gpus.free[row].tolist() if free >= milli)
        return 0 if room >= request.count else int(Code.UNSCHEDULABLE)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """The per-node reference form, with the reason a node fails."""
        request = self._request(state, pod)
        if request is None:
            return None
        gpus = self.gpus
        gpus.sync()
        row = node.index
        if gpus.gpus[row] == 0:
            return Status(Code.UNSCHEDULABLE, (ERR_REASON_NO_GPU,))
        if request.models and gpus.models[int(gpus.model[row])] not in request.models:
            return Status(Code.UNSCHEDULABLE, (ERR_REASON_MODEL,))
        room = sum(1 for g in range(int(gpus.gpus[row])) if gpus.free[row, g] >= request.milli)
        if room < request.count:
            return Status(Code.UNSCHEDULABLE, (ERR_REASON_NO_ROOM,))
        return None

    # -- Reserve ------------------------------------------------------------------------
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        try:
            request = self._request(state, pod)
            preset = parse_gpu_index(pod) if request is not None else None
        except GpuRequestError as err:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (str(err),))
        if request is None or pod.key in self.gpus.holdings:
            return None
        gpus = self.gpus
        gpus.sync()
        row = gpus.snapshot.index.get(node_name)
        if row is None:
            return Status(Code.UNSCHEDULABLE, (f"node {node_name} is not in the snapshot",))
        if preset is not None:
            # A pod that names its GPUs keeps them, as Open-Gpu-Share honours the annotation.
            try:
                gpus.hold(pod, node_name, preset, request, written=False)
            except ValueError as err:
                return Status(Code.UNSCHEDULABLE, (str(err),))
            return None
        indices = self._select(pod, request, row)
        if indices is None:
            return Status(Code.UNSCHEDULABLE, (ERR_REASON_NO_ROOM,))
        gpus.hold(pod, node_name, indices, request, written=True)
        pod.pod.metadata.annotations[GPU_INDEX] = format_gpu_index(indices)
        return None

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        held = self.gpus.release(pod.key)
        if held is not None and held.written:
            pod.pod.metadata.annotations.pop(GPU_INDEX, None)

    def _select(self, pod: PodInfo, request: GpuRequest, row: int) -> tuple[int, ...] | None:
        gpus = self.gpus
        free, count = gpus.free[row], int(gpus.gpus[row])
        method = self.args.gpu_selection
        if method in ("auto", "score"):
            selector = self._selector()
            if selector is not None:
                chosen: tuple[int, ...] | None = selector.select_gpus(pod, request, row, gpus)
                return chosen
            if method == "score":
                raise ValueError(
                    "gpuSelection is 'score' but the profile's highest-weight score plugin "
                    "has no select_gpus method"
                )
        if method == "random":
            return random_fit(free, count, request, self.handle.rng)
        return best_fit(free, count, request)

    def _selector(self) -> Any:
        """The highest-weight score plugin if it can choose GPUs (first on equal weights)."""
        framework = getattr(self.handle, "framework", None)
        # A profile's score plugins are fixed once its framework is built: look once.
        if self._selected is not None and self._selected[0]() is framework:
            return self._selected[1]
        selector = self._find_selector(framework)
        if framework is not None:
            self._selected = (weakref.ref(framework), selector)
        return selector

    @staticmethod
    def _find_selector(framework: Any) -> Any:
        scores: list[tuple[Any, int]] = list(getattr(framework, "scores", None) or [])
        if not scores:
            return None
        top = max(weight for _, weight in scores)
        plugin = next(p for p, weight in scores if weight == top)
        return plugin if callable(getattr(plugin, "select_gpus", None)) else None


def new(args: OpenGpuShareArgs | None, handle: Any) -> OpenGpuShare:
    return OpenGpuShare(args or OpenGpuShareArgs(), handle)
