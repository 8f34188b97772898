"""Why a pod goes where it goes: every plugin's verdict and score on every node.

The same information kube-scheduler-simulator writes into its result
annotations (filter-result, score-result, finalscore-result), as data and as
a table.  Nothing is reserved or bound: the cycle runs on a fresh state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ksched.framework.cycle_state import CycleState
from ksched.framework.pod_info import PodInfo
from ksched.framework.runtime import CycleError, Framework
from ksched.framework.snapshot import NodeSet
from ksched.framework.status import Code, Status

PASSED = "passed"


@dataclass(slots=True)
class NodeScore:
    raw: int
    normalized: int
    weighted: int


@dataclass(slots=True)
class Explanation:
    pod: str
    profile: str
    pre_filter: dict[str, str] = field(default_factory=dict)
    filters: dict[str, dict[str, str]] = field(default_factory=dict)
    scores: dict[str, dict[str, NodeScore]] = field(default_factory=dict)
    final_scores: dict[str, int] = field(default_factory=dict)
    feasible: list[str] = field(default_factory=list)
    top: list[str] = field(default_factory=list)
    selected: str = ""
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "pod": self.pod,
            "profile": self.profile,
            "preFilter": self.pre_filter,
            "filter": self.filters,
            "score": {
                node: {p: vars_(s) for p, s in plugins.items()}
                for node, plugins in self.scores.items()
            },
            "finalScore": self.final_scores,
            "feasible": self.feasible,
            "top": self.top,
            "selected": self.selected,
            **({"error": self.error} if self.error else {}),
        }

    def format(self) -> str:
        """A plain-text report: the filter table, then the score table of feasible nodes."""
        lines = [f"pod {self.pod} (profile {self.profile})"]
        for plugin, verdict in self.pre_filter.items():
            lines.append(f"  PreFilter {plugin}: {verdict}")
        if self.error:
            lines.append(f"  error: {self.error}")
        plugins = sorted({p for v in self.filters.values() for p in v})
        if self.filters:
            lines.append("")
            lines.append("Filter")
            width = max(len(n) for n in self.filters)
            for node, verdicts in self.filters.items():
                failed = [
                    f"{p}: {verdicts[p]}" for p in plugins if verdicts.get(p, PASSED) != PASSED
                ]
                lines.append(f"  {node:<{width}}  {'; '.join(failed) if failed else PASSED}")
        if self.scores:
            lines.append("")
            lines.append("Score (raw / normalized / weighted)")
            score_plugins = list(next(iter(self.scores.values())))
            width = max(len(n) for n in self.scores)
            header = "  ".join(f"{p:>28}" for p in score_plugins)
            lines.append(f"  {'node':<{width}}  {header}  {'total':>7}")
            ranked = sorted(self.final_scores.items(), key=lambda kv: (-kv[1], kv[0]))
            for node, total in ranked:
                cells = "  ".join(
                    f"{s.raw:>10} / {s.normalized:>3} / {s.weighted:>8}"
                    for s in (self.scores[node][p] for p in score_plugins)
                )
                mark = "  <- top" if node in self.top else ""
                lines.append(f"  {node:<{width}}  {cells}  {total:>7}{mark}")
        elif self.selected:
            lines.append(f"selected: {self.selected}")
        return "\n".join(lines)


def vars_(s: NodeScore) -> dict[str, int]:
    return {"raw": s.raw, "normalized": s.normalized, "weighted": s.weighted}


def explain(fwk: Framework, pod: PodInfo) -> Explanation:
    """Run every Filter on every node and every Score on the feasible ones, recording all.

    Unlike a scheduling cycle, filtering does not stop at a node's first
    failing plugin, so the table shows each plugin's own verdict.  ``top``
    lists the best-scoring nodes; ``selected`` is set when that is unique
    (ties are broken by the scheduler's rule, which explain does not consume).
    """
    snap = fwk.snapshot
    out = Explanation(pod.key, fwk.profile_name)
    state = CycleState()
    restrict, status = fwk.run_pre_filter(state, pod)
    for plugin in fwk.pre_filter:
        out.pre_filter[plugin.name] = (
            "skipped" if plugin.name in state.skip_filter_plugins else PASSED
        )
    if status is not None:
        out.pre_filter[status.plugin or "PreFilter"] = _text(status)
        out.error = _text(status)
        return out
    allowed = None if restrict is None else restrict.node_names
    feasible_rows = []
    for info in snap.nodes:
        verdicts: dict[str, str] = {}
        if allowed is not None and info.name not in allowed:
            verdicts["PreFilterResult"] = "node is not in the PreFilter result"
        for plugin in fwk.filters:
            if plugin.name in state.skip_filter_plugins:
                continue
            verdict = _filter_one(fwk, state, pod, plugin, info.index)
            verdicts[plugin.name] = PASSED if verdict is None else _text(verdict)
        out.filters[info.name] = verdicts
        if all(v == PASSED for v in verdicts.values()):
            feasible_rows.append(info.index)
    out.feasible = [snap.nodes[r].name for r in feasible_rows]
    if not feasible_rows:
        return out
    nodes = NodeSet(snap, np.asarray(feasible_rows, dtype=np.intp))
    status = fwk.run_pre_score(state, pod, nodes)
    if status is not None:
        out.error = _text(status)
        return out
    try:
        scores = fwk.run_score(state, pod, nodes, keep_raw=True)
    except CycleError as err:
        out.error = _text(err.status)
        return out
    for k, row in enumerate(feasible_rows):
        name = snap.nodes[row].name
        out.scores[name] = {
            ps.plugin: NodeScore(
                int(ps.raw[k]) if ps.raw is not None else int(ps.normalized[k]),
                int(ps.normalized[k]),
                int(ps.normalized[k]) * ps.weight,
            )
            for ps in scores.plugins
        }
        out.final_scores[name] = int(scores.total[k])
    best = max(out.final_scores.values())
    out.top = sorted(n for n, v in out.final_scores.items() if v == best)
    out.selected = out.top[0] if len(out.top) == 1 else ""
    return out


def _filter_one(
    fwk: Framework, state: CycleState, pod: PodInfo, plugin: Any, row: int
) -> Status | None:
    info = fwk.snapshot.nodes[row]
    if hasattr(plugin, "filter"):
        status: Status | None = plugin.filter(state, pod, info)
        return None if status is None or status.code == Code.SUCCESS else status
    one = NodeSet(fwk.snapshot, np.array([row], dtype=np.intp))
    res = np.asarray(plugin.filter_nodes(state, pod, one))
    ok = bool(res[0]) if res.dtype == np.bool_ else int(res[0]) == 0
    if ok:
        return None
    reason = (
        getattr(plugin, "filter_reason", None) or f"node(s) didn't satisfy plugin {plugin.name}"
    )
    return Status(Code.UNSCHEDULABLE, (reason,), plugin.name)


def _text(status: Status) -> str:
    return status.message or str(status.code)
