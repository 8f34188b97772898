"""Decision logs: every scheduling decision of a replay, its candidates and what followed.

A ``DecisionRecorder`` is handed to a replay (``recorder=``); the replay
calls ``attach(scheduler)`` once, which wraps that scheduler's
``schedule_pod``. Before each decision the recorder filters every node on
a fresh cycle state (the scheduler's own state is untouched), scores all
feasible ones (whatever ``percentageOfNodesToScore`` says) with the
profile's Score plugins and extracts the features of
``ksched.ml.features``; after it, it notes the chosen node. ``finish``
joins the outcomes the replay's result knows (completion times) and those
only later decisions reveal (how many of the next pods failed).

A log is two tables written as Parquet: ``decisions`` (one row per
decision) and ``candidates`` (one row per kept candidate node: the chosen
one and up to ``max_candidates`` - 1 others drawn with a seeded generator).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.pod_info import PodInfo
from ksched.framework.runtime import CycleError, Framework
from ksched.framework.snapshot import NodeSet
from ksched.ml.features import (
    FEATURE_NAMES,
    FeatureExtractor,
    feature_schema_hash,
    target_to_dict,
)
from ksched.sim.metrics import TargetWorkload

if TYPE_CHECKING:
    from ksched.scheduler import Scheduler
    from ksched.sim.result import ReplayResult

__all__ = ["DECISION_COLUMNS", "DecisionLog", "DecisionRecorder", "read_logs"]

DECISIONS_FILE: Final = "decisions.parquet"
CANDIDATES_FILE: Final = "candidates.parquet"
META_FILE: Final = "meta.json"
SCORE_PREFIX: Final = "score:"
DECISION_COLUMNS: Final = (
    "decision",
    "pod",
    "time",
    "feasible",
    "chosen_node",
    "placed",
    "frag_delta",
    "observed",
    "later_failures",
    "completion_time",
    "group",
)


@dataclass
class DecisionLog:
    """The two tables of a log and how it was made (``meta``)."""

    decisions: pd.DataFrame
    candidates: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dir(self, path: str | Path) -> Path:
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        self.decisions.to_parquet(out / DECISIONS_FILE, index=False)
        self.candidates.to_parquet(out / CANDIDATES_FILE, index=False)
        (out / META_FILE).write_text(json.dumps(self.meta, indent=2, default=str) + "\n")
        return out

    @classmethod
    def from_dir(cls, path: str | Path) -> DecisionLog:
        where = Path(path)
        for name in (DECISIONS_FILE, CANDIDATES_FILE, META_FILE):
            if not (where / name).is_file():
                raise FileNotFoundError(f"{where}: not a decision log ({name} is missing)")
        meta = json.loads((where / META_FILE).read_text())
        return cls(
            pd.read_parquet(where / DECISIONS_FILE), pd.read_parquet(where / CANDIDATES_FILE), meta
        )


def read_logs(paths: Sequence[str | Path]) -> DecisionLog:
    """Several logs as one; decisions are renumbered so they stay unique."""
    logs = [DecisionLog.from_dir(p) for p in paths]
    decisions, candidates, offset = [], [], 0
    for log in logs:
        d, c = log.decisions.copy(), log.candidates.copy()
        d["decision"] += offset
        c["decision"] += offset
        offset = int(d["decision"].max()) + 1 if len(d) else offset
        decisions.append(d)
        candidates.append(c)
    return DecisionLog(
        pd.concat(decisions, ignore_index=True),
        pd.concat(candidates, ignore_index=True),
        {"parts": [log.meta for log in logs]},
    )


@dataclass(slots=True)
class _Pending:
    pod: PodInfo
    time: float
    rows: NDArray[np.intp]
    names: list[str]
    features: NDArray[np.float64]
    scores: dict[str, NDArray[np.int64]]
    total: NDArray[np.int64]
    observed: bool = True


class DecisionRecorder:
    """Records the decisions of the scheduler it is attached to. Keyword parameters only.

    ``target``: the workload whose fragmentation the features measure.
    ``max_candidates``: candidates kept per decision (None: all feasible).
    ``every``: observe every ``every``-th decision (the others keep only their outcome).
    ``later_window``: how many following decisions ``later_failures`` counts over.
    ``group``: a label for train/validation splits (trace, variant, seed).
    """

    def __init__(
        self,
        target: TargetWorkload,
        *,
        max_candidates: int | None = 64,
        every: int = 1,
        later_window: int = 100,
        seed: int = 0,
        group: str = "",
    ) -> None:
        if max_candidates is not None and max_candidates < 1:
            raise ValueError(
                "The 'max_candidates' parameter of DecisionRecorder must be >= 1 or None. "
                f"Got {max_candidates!r} instead."
            )
        self.extractor = FeatureExtractor(target)
        if every < 1:
            raise ValueError(
                f"The 'every' parameter of DecisionRecorder must be >= 1. Got {every!r} instead."
            )
        self.max_candidates = max_candidates
        self.every = every
        self.later_window = later_window
        self.group = group
        self.rng = np.random.default_rng(seed)
        self._decisions: list[dict[str, Any]] = []
        self._candidates: list[pd.DataFrame] = []
        self._weights: dict[str, int] = {}

    def __len__(self) -> int:
        """Decisions recorded so far."""
        return len(self._decisions)

    def attach(self, scheduler: Scheduler) -> None:
        """Wrap ``scheduler.schedule_pod`` so that every decision is recorded."""
        inner = scheduler.schedule_pod

        def schedule_pod(
            fwk: Framework, state: CycleState, pod: PodInfo, *rest: Any, **options: Any
        ) -> Any:
            observed = len(self._decisions) % self.every == 0
            pending = self._observe(fwk, pod) if observed else self._unobserved(fwk, pod)
            try:
                result = inner(fwk, state, pod, *rest, **options)
            except Exception:
                self._record(pending, "")
                raise
            self._record(pending, result.node)
            return result

        setattr(scheduler, "schedule_pod", schedule_pod)  # noqa: B010  # an instance override

    def _unobserved(self, fwk: Framework, pod: PodInfo) -> _Pending:
        return _Pending(pod, fwk.handle.clock.now(), np.zeros(0, np.intp), [],
                        np.zeros((0, 0)), {}, np.zeros(0, np.int64), observed=False)  # fmt: skip

    def _observe(self, fwk: Framework, pod: PodInfo) -> _Pending:
        snap = fwk.snapshot
        state = CycleState()
        empty = self._unobserved(fwk, pod)
        empty.observed = True
        restrict, status = fwk.run_pre_filter(state, pod)
        if status is not None or snap.n == 0:
            return empty
        feasible = fwk.find_feasible(state, pod, restrict, snap.n, 0).feasible
        if len(feasible) == 0:
            return empty
        nodes = NodeSet(snap, np.sort(feasible))
        try:
            if fwk.run_pre_score(state, pod, nodes) is not None:
                return empty
            outcome = fwk.run_score(state, pod, nodes)
        except CycleError:
            return empty
        rows = nodes.indices
        return _Pending(
            pod,
            empty.time,
            rows,
            [snap.nodes[int(r)].name for r in rows],
            self.extractor.extract(pod, nodes),
            self._scores(outcome.plugins),
            outcome.total,
        )

    def _scores(self, plugins: Sequence[Any]) -> dict[str, NDArray[np.int64]]:
        """Each plugin's weighted score; the weights are kept for the log's metadata."""
        for p in plugins:
            self._weights.setdefault(p.plugin, int(p.weight))
        return {p.plugin: p.normalized * p.weight for p in plugins}

    def _record(self, pending: _Pending, chosen: str) -> None:
        decision = len(self._decisions)
        names = pending.names
        hit = names.index(chosen) if chosen and chosen in names else -1
        frag_delta = (
            float(pending.features[hit, FEATURE_NAMES.index("frag_delta")]) if hit >= 0 else np.nan
        )
        self._decisions.append(
            {
                "decision": decision,
                "pod": pending.pod.name,
                "time": pending.time,
                "feasible": len(names),
                "chosen_node": chosen,
                "placed": bool(chosen),
                "frag_delta": frag_delta,
                "observed": pending.observed,
            }
        )
        if not names:
            return
        keep = np.arange(len(names))
        if self.max_candidates is not None and len(names) > self.max_candidates:
            others = np.delete(keep, hit) if hit >= 0 else keep
            drawn = self.rng.choice(
                others, self.max_candidates - (hit >= 0), replace=False, shuffle=False
            )
            keep = np.sort(np.concatenate([drawn, [hit]]) if hit >= 0 else drawn)
        frame = pd.DataFrame(pending.features[keep], columns=list(FEATURE_NAMES))
        frame.insert(0, "decision", decision)
        frame.insert(1, "node", [names[k] for k in keep])
        frame.insert(2, "chosen", keep == hit)
        for plugin, scores in pending.scores.items():
            frame[SCORE_PREFIX + plugin] = scores[keep]
        frame["score_total"] = pending.total[keep]
        self._candidates.append(frame)

    def finish(self, result: ReplayResult | None = None) -> DecisionLog:
        """The log so far, with outcomes: later failures and, from ``result``, completion times."""
        decisions = pd.DataFrame(self._decisions, columns=list(DECISION_COLUMNS[:8]))
        failed = (~decisions["placed"].to_numpy(bool)).astype(np.int64)
        # Failures among the next `later_window` decisions: a windowed sum over a prefix sum.
        cum = np.concatenate([[0], np.cumsum(failed)])
        i = np.arange(len(failed))
        end = np.minimum(i + 1 + self.later_window, len(failed))
        decisions["later_failures"] = cum[end] - cum[i + 1]
        completion = np.full(len(decisions), np.nan)
        if result is not None and len(decisions):
            pods = result.pods
            jct = pd.Series(
                (pods["finish_time"] - pods["arrival_time"]).to_numpy(), index=pods["name"]
            )
            jct = jct[~jct.index.duplicated()]
            completion = jct.reindex(decisions["pod"]).to_numpy(dtype=np.float64)
        decisions["completion_time"] = completion
        decisions["group"] = self.group
        candidates = (
            pd.concat(self._candidates, ignore_index=True)
            if self._candidates
            else pd.DataFrame(columns=["decision", "node", "chosen", *FEATURE_NAMES])
        )
        meta: dict[str, Any] = {
            "features": list(FEATURE_NAMES),
            "schema": feature_schema_hash(),
            "max_candidates": self.max_candidates,
            "later_window": self.later_window,
            "group": self.group,
            "target": target_to_dict(self.extractor.target),
            # The teacher's Score weights: ``score_total`` / their sum is its 0-100 scale.
            "score_weights": dict(self._weights),
        }
        if result is not None:
            meta.update(
                profile=result.profile, trace=result.trace, seed=result.seed,
                protocol=result.protocol,
            )  # fmt: skip
        return DecisionLog(decisions, candidates, meta)
