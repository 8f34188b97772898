"""MLScore: a saved scorer model ranks the candidate nodes, all of them in one prediction.

The model (``ksched train``) was fitted on ``ksched.ml.features`` rows; the
plugin extracts the same rows for the candidates and calls the estimator
once per cycle. A node's features depend only on the pod's shape and that
node's row, so values are kept per pod shape and, on later cycles, only
rows the snapshot logged as changed are extracted and predicted again
(the equivalence-class idea of kube-scheduler's old equivalence cache).
NormalizeScore maps the values min-max onto [0, 100] over the candidates,
except for a distilled model (``--objective distill``), whose values are
its teacher's 0-100 score: those are rounded and kept, so the candidates
the teacher would tie still tie.

Args: ``model`` (a directory written by ``SavedModel.save``) and optional
``target``, the target workload (``target_to_dict`` form) whose
fragmentation the features measure; by default the one the model was
trained with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from ksched.framework.cycle_state import CycleState
from ksched.framework.interface import MAX_NODE_SCORE
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet
from ksched.framework.status import Status
from ksched.ml.features import (
    FEATURE_NAMES,
    FeatureExtractor,
    feature_schema_hash,
    pod_shape,
    target_from_dict,
)
from ksched.ml.model import SavedModel, load_model

__all__ = ["NAME", "Args", "MLScore", "MLScoreArgs", "new"]

NAME: Final = "MLScore"
SCALE: Final = 1_000_000  # raw scores are model values in millionths (Score returns integers)
_MAX_SHAPES: Final = 1024


class MLScoreArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    target: dict[str, list[Any]] | None = None


Args = MLScoreArgs


@dataclass(slots=True)
class _Entry:
    node_generation: int
    position: int
    values: NDArray[np.float64]


class MLScore:
    """Score = the model's value of (pod, node); see the module docstring."""

    def __init__(self, model: SavedModel, extractor: FeatureExtractor) -> None:
        self.model = model
        self.extractor = extractor
        self.sign = 1.0 if model.higher_is_better else -1.0
        # A distilled model predicts its teacher's 0-100 score: rounded, not rescaled,
        # so nodes the teacher scored equal stay equal for the tie-break.
        self.teacher_scale = model.extra.get("score_scale") == "teacher"
        self._snapshot: ClusterSnapshot | None = None
        self._entries: dict[tuple[object, ...], _Entry] = {}

    @property
    def name(self) -> str:
        return NAME

    def _key(self, pod: PodInfo) -> tuple[object, ...]:
        spec = pod.pod.spec
        return (pod_shape(pod), tuple(sorted(spec.node_selector.items())), repr(spec.tolerations))

    def _predict(self, pod: PodInfo, nodes: NodeSet) -> NDArray[np.float64]:
        return self.sign * self.model.value(self.extractor.extract(pod, nodes))

    def values(self, pod: PodInfo, snap: ClusterSnapshot) -> NDArray[np.float64]:
        """The model's value of every snapshot row for ``pod`` (higher: better)."""
        if snap is not self._snapshot:
            self._snapshot, self._entries = snap, {}
        key = self._key(pod)
        entry = self._entries.get(key)
        position = snap.log_position
        if entry is not None and entry.node_generation == snap.node_generation:
            rows = snap.rows_changed_since(entry.position)
            if rows is not None:
                if rows:
                    dirty = np.unique(np.asarray(rows, dtype=np.intp))
                    entry.values[dirty] = self._predict(pod, NodeSet(snap, dirty))
                entry.position = position
                return entry.values
        if len(self._entries) >= _MAX_SHAPES:
            self._entries.clear()
        values = self._predict(pod, snap.all_nodes())
        self._entries[key] = _Entry(snap.node_generation, position, values)
        return values

    def _scores(self, values: NDArray[np.float64]) -> NDArray[np.int64]:
        if self.teacher_scale:
            return np.asarray(np.clip(np.rint(values), 0, MAX_NODE_SCORE), dtype=np.int64)
        return np.asarray(np.rint(values * SCALE), dtype=np.int64)

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        return self._scores(self.values(pod, nodes.snapshot)[nodes.idx])

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return int(self._scores(self.values(pod, node.snapshot)[node.index : node.index + 1])[0])

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        if len(scores) == 0 or self.teacher_scale:
            return None
        low, high = int(scores.min()), int(scores.max())
        if high == low:
            scores[:] = MAX_NODE_SCORE
        else:
            scores[:] = (scores - low) * MAX_NODE_SCORE // (high - low)
        return None


def new(args: MLScoreArgs | None, handle: Any) -> MLScore:
    if args is None:
        raise ValueError(f"plugin {NAME!r} needs args: the saved model's directory ('model')")
    model = load_model(
        args.model, kind="scorer", features=FEATURE_NAMES, schema=feature_schema_hash()
    )
    target = args.target if args.target is not None else model.extra.get("target")
    if not target:
        raise ValueError(
            f"plugin {NAME!r}: model {args.model} stores no target workload and the args give none"
        )
    try:
        workload = target_from_dict(target)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"plugin {NAME!r}: args field 'target' is malformed: {exc}") from None
    return MLScore(model, FeatureExtractor(workload))
