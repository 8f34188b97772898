"""Runs a profile's plugins at each extension point (upstream ``frameworkImpl``).

The runtime owns ordering, weights, skip sets, range checks and error
wrapping, so plugins carry none of it.  Filter and Score run vectorised over
all candidate nodes when a plugin offers ``filter_nodes``/``score_nodes``;
per-node plugins are looped only over the nodes still feasible.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.equivalence import (
    ClassEntry,
    EquivalenceCache,
    KnownFailure,
    read_annotations,
)
from ksched.framework.handle import Handle
from ksched.framework.interface import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    ExtensionPoint,
    NodeToStatus,
    PostFilterResult,
    PreFilterResult,
)
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import SKIP, Code, Status
from ksched.framework.waiting_pods import WaitingPod

if TYPE_CHECKING:
    from ksched.config.registry import Registry
    from ksched.config.resolve import ResolvedProfile
    from ksched.framework.events import ClusterEventWithHint

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
MAX_PERMIT_TIMEOUT = 15 * 60.0
# Changed rows up to which plugins' scalar ``filter_row``/``score_row`` beat their
# vectorised forms: a numpy call costs about as much as a row in plain Python.
ROW_PATH_MAX_ROWS = 16
_UNSCHED = np.uint8(Code.UNSCHEDULABLE)
_ERROR = np.uint8(Code.ERROR)


def num_feasible_nodes_to_find(percentage: int | None, num_all_nodes: int) -> int:
    """Adaptive percentageOfNodesToScore (schedule_one.go ``numFeasibleNodesToFind``)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    pct = percentage or 0
    if pct == 0:
        pct = 50 - num_all_nodes // 125
        if pct < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND:
            pct = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
    if pct >= 100:
        return num_all_nodes
    return max(num_all_nodes * pct // 100, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass(slots=True)
class FilterOutcome:
    """Feasible snapshot rows in evaluation order, and why the others failed."""

    feasible: NDArray[np.intp]
    processed: int
    statuses: NodeToStatus
    unschedulable_plugins: set[str] = field(default_factory=set)
    evaluated: int = 0


@dataclass(slots=True)
class PluginScores:
    plugin: str
    weight: int
    raw: NDArray[np.int64] | None
    normalized: NDArray[np.int64]


@dataclass(slots=True)
class ScoreOutcome:
    total: NDArray[np.int64]
    plugins: list[PluginScores]


@dataclass(frozen=True, slots=True)
class _Active:
    """A cycle's Filter or Score plugins given its skip set, and what the cached paths ask of them.

    ``plugins`` holds (index, plugin) for Filter and (plugin, weight) for Score.
    Per plugin, ``checked``: no NormalizeScore, so raw scores are range-checked and
    summed once per changed row; ``node_only``: ``node_object_only``, see ``_filter_few``.
    """

    plugins: list[tuple[Any, Any]]
    names: tuple[str, ...]
    node_local: bool
    rows: bool  # every one has the scalar row method
    checked: tuple[bool, ...]
    node_only: tuple[bool, ...]
    # Score: (plugin, weight) with and without NormalizeScore, split once, not by hasattr per cycle.
    fixed: list[tuple[Any, int]]
    normalizing: list[tuple[Any, int]]
    # Filter: the node-only plugins before the first one reading pods (their indices), and
    # the plugins from that one on.
    node_only_filters: frozenset[int]
    from_pods: list[tuple[Any, Any]]

    @classmethod
    def of(cls, plugins: list[tuple[Any, Any]], each: list[Any], point: str) -> _Active:
        checked = tuple(not hasattr(p, "normalize_score") for p in each)
        node_only = tuple(bool(getattr(p, "node_object_only", False)) for p in each)
        first = node_only.index(False) if False in node_only else len(each)
        filters = point == "filter_row"
        return cls(
            plugins,
            tuple(p.name for p in each),
            all(getattr(p, "node_local", False) for p in each),
            all(hasattr(p, point) for p in each),
            checked,
            node_only,
            [] if filters else [pw for pw, c in zip(plugins, checked, strict=True) if c],
            [] if filters else [pw for pw, c in zip(plugins, checked, strict=True) if not c],
            frozenset(i for i, _ in plugins[:first]) if filters else frozenset(),
            plugins[first:] if filters else [],
        )


def _call(plugin: Any, point: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call a plugin, turning an exception into an Error status naming it."""
    try:
        return fn(*args)
    except Exception as exc:
        return _raised(plugin, point, exc)


def _raised(plugin: Any, point: str, exc: Exception) -> Status:
    return Status(Code.ERROR, (f"running {point} plugin {plugin.name!r}: {exc}",), plugin.name, exc)


class Framework:
    """One profile: its plugins, instantiated once, and the order they run in."""

    def __init__(self, profile: ResolvedProfile, registry: Registry, handle: Handle) -> None:
        self.profile = profile
        self.profile_name = profile.scheduler_name
        self.percentage_of_nodes_to_score = profile.percentage_of_nodes_to_score
        self.handle = handle
        self.snapshot = handle.snapshot
        self.plugins: dict[str, Any] = {}
        for point_plugins in profile.points.values():
            for name, _ in point_plugins:
                if name not in self.plugins:
                    spec = registry[name]
                    self.plugins[name] = spec.factory(profile.args.get(name), handle)

        def at(point: ExtensionPoint) -> list[Any]:
            return [self.plugins[n] for n, _ in profile.points.get(point, ())]

        self.pre_enqueue = at(ExtensionPoint.PRE_ENQUEUE)
        sorts = at(ExtensionPoint.QUEUE_SORT)
        self.queue_sort = sorts[0] if sorts else None
        self.pre_filter = at(ExtensionPoint.PRE_FILTER)
        self.filters = at(ExtensionPoint.FILTER)
        self.post_filter = at(ExtensionPoint.POST_FILTER)
        self.pre_score = at(ExtensionPoint.PRE_SCORE)
        self.scores: list[tuple[Any, int]] = [
            (self.plugins[n], w or 1) for n, w in profile.points.get(ExtensionPoint.SCORE, ())
        ]
        self.reserve = at(ExtensionPoint.RESERVE)
        self.permit = at(ExtensionPoint.PERMIT)
        self.pre_bind = at(ExtensionPoint.PRE_BIND)
        self.bind = at(ExtensionPoint.BIND)
        self.post_bind = at(ExtensionPoint.POST_BIND)
        self._vector_filters = [hasattr(p, "filter_nodes") for p in self.filters]
        self._scalar_filters = [i for i, vec in enumerate(self._vector_filters) if not vec]
        self.equivalence = EquivalenceCache(annotation_keys=read_annotations(self.plugins.values()))
        # Set once a class failure is remembered (``remember_failure``).
        self._remembered_failures = False
        self._active: dict[tuple[str, frozenset[str]], _Active] = {}
        handle.framework = self

    # -- queueing -------------------------------------------------------------
    def events_to_register(self) -> dict[str, Sequence[ClusterEventWithHint]]:
        """Each plugin's events; one registering none gets all (upstream fillEnqueueExtensions)."""
        from ksched.framework.events import WILDCARD_EVENT
        from ksched.framework.events import ClusterEventWithHint as Hint

        return {
            name: (
                plugin.events_to_register()
                if hasattr(plugin, "events_to_register")
                else [Hint(WILDCARD_EVENT)]
            )
            for name, plugin in self.plugins.items()
        }

    def run_pre_enqueue(self, pod: PodInfo) -> Status | None:
        for plugin in self.pre_enqueue:
            status = _call(plugin, "PreEnqueue", plugin.pre_enqueue, pod)
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(plugin.name)  # type: ignore[no-any-return]
        return None

    # -- scheduling cycle -------------------------------------------------------
    def run_pre_filter(
        self, state: CycleState, pod: PodInfo
    ) -> tuple[PreFilterResult | None, Status | None]:
        """Run PreFilter as upstream RunPreFilterPlugins.

        Unschedulable does not stop the loop (preemption needs every plugin's
        state, kubernetes#119770): the last one is returned.
        UnschedulableAndUnresolvable stops it; an empty merged node
        restriction is UnschedulableAndUnresolvable naming its plugins.
        """
        merged: PreFilterResult | None = None
        with_nodes: list[str] = []
        returned: Status | None = None
        nodes = self.snapshot.all_nodes()
        for plugin in self.pre_filter:
            out = _call(plugin, "PreFilter", plugin.pre_filter, state, pod, nodes)
            if isinstance(out, Status):
                return None, out
            result, status = out
            if status is not None and status.code != Code.SUCCESS:
                if status.code == Code.SKIP:
                    state.skip_filter_plugins.add(plugin.name)
                    continue
                status = status.with_plugin(plugin.name)
                if status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                    return None, status
                if status.code == Code.UNSCHEDULABLE:
                    returned = status
                    continue
                return None, _wrapped(status, f'running PreFilter plugin "{plugin.name}"')
            if result is not None and result.node_names is not None:
                with_nodes.append(plugin.name)
                merged = result if merged is None else merged.merge(result)
                if not merged.node_names:
                    msg = (
                        f"node(s) didn't satisfy plugin {with_nodes[0]}"
                        if len(with_nodes) == 1
                        else "node(s) didn't satisfy plugin(s) "
                        f"[{' '.join(with_nodes)}] simultaneously"
                    )
                    return merged, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (msg,), plugin.name)
        state.write(_PLUGINS_WITH_NODES, with_nodes)
        return merged, returned

    def find_feasible(
        self,
        state: CycleState,
        pod: PodInfo,
        restrict: PreFilterResult | None = None,
        num_to_find: int | None = None,
        start: int = 0,
    ) -> FilterOutcome:
        """Filter from row ``start`` on until ``num_to_find`` fit (findNodesThatPassFilters).

        Nodes are taken in upstream's round-robin order, in contiguous chunks
        a few times ``num_to_find`` long: each vectorised plugin answers for a
        whole chunk in one call (on array views, no copies) and evaluation
        stops once enough nodes fit, as upstream stops its workers.  The first
        plugin to reject a node is the one its status names, as upstream.
        """
        snap = self.snapshot
        absent: Status | None = None
        rows: NDArray[np.intp] | None = None
        if restrict is not None and restrict.node_names is not None:
            rows = np.fromiter(
                (snap.index[n] for n in restrict.node_names if n in snap.index), dtype=np.intp
            )
            rows.sort()
            named = " ".join(state.get(_PLUGINS_WITH_NODES) or ())
            absent = Status(
                Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                (f"node(s) didn't satisfy plugin(s) [{named}]",),
            )
        m = snap.n if rows is None else len(rows)
        if num_to_find is None or num_to_find > m:
            num_to_find = m
        skip = state.skip_filter_plugins
        vector = [
            (i, p)
            for i, p in enumerate(self.filters)
            if self._vector_filters[i] and p.name not in skip
        ]
        scalar = [i for i in self._scalar_filters if self.filters[i].name not in skip]
        codes = np.zeros(m, dtype=np.uint8)
        who = np.full(m, -1, dtype=np.int16)
        s = start % m if m else 0
        chunk = max(2 * num_to_find, 512)
        found: list[NDArray[np.intp]] = []
        n_found = 0
        processed = m
        extra: dict[int, Status] = {}
        nominated = self._nominated_rows(pod)
        for a, b in _segments(s, m, chunk):
            idx: NDArray[np.intp] | slice = slice(a, b) if rows is None else rows[a:b]
            nodes = NodeSet(snap, idx)
            seg_who = who[a:b]
            seg_codes = codes[a:b]
            for i, plugin in vector:
                out = _call(plugin, "Filter", plugin.filter_nodes, state, pod, nodes)
                if isinstance(out, Status):
                    raise _FilterError(out)
                _record(plugin, i, np.asarray(out), seg_who, seg_codes)
            passing = np.flatnonzero(seg_who < 0) + a
            if nominated:
                passing = self._recheck_nominated(
                    state, pod, rows, passing, nominated, codes, who, extra
                )
            need = num_to_find - n_found
            if scalar:
                passing, last = self._scalar_filter(
                    state, pod, rows, passing, scalar, need, codes, who, extra
                )
            else:
                last = int(passing[need - 1]) if need and len(passing) >= need else -1
                passing = passing[:need]
            found.append(passing)
            n_found += len(passing)
            if n_found >= num_to_find and last >= 0:
                processed = (last - s) % m + 1
                break
        feasible = _joined(found)
        if rows is not None:
            feasible = rows[feasible]
        unsched: set[str] = set()
        if not len(feasible):
            unsched = {self.filters[i].name for i in _rejecters(who)}
            if rows is not None:
                unsched |= set(state.get(_PLUGINS_WITH_NODES) or ())
        row_codes = codes if rows is None else _scatter(codes, rows, snap.n)
        row_who = who if rows is None else _scatter(who, rows, snap.n, fill=-1)
        if rows is not None:
            extra = {int(rows[k]): v for k, v in extra.items()}

        def resolve(row: int) -> Status | None:
            if row in extra:
                return extra[row]
            i = int(row_who[row])
            if i < 0:
                return None
            return self._reason(state, pod, i, row, Code(int(row_codes[row])))

        def count() -> Counter[str]:
            return self._count_reasons(state, pod, row_codes, row_who, extra)

        statuses = NodeToStatus.from_arrays(snap.index, row_codes, resolve, absent, count)
        return FilterOutcome(feasible, processed, statuses, unsched, m)

    # -- equivalence-class reuse --------------------------------------------------------
    def _active_at(self, point: str, skip: set[str]) -> _Active:
        """Filter (``point="filter_row"``) or Score plugins not in ``skip``, memoised."""
        key = (point, frozenset(skip))
        hit = self._active.get(key)
        if hit is None:
            if point == "filter_row":
                plugins = [(i, p) for i, p in enumerate(self.filters) if p.name not in skip]
                each = [p for _, p in plugins]
            else:
                plugins = [(p, w) for p, w in self.scores if p.name not in skip]
                each = [p for p, _ in plugins]
            hit = self._active[key] = _Active.of(plugins, each, point)
        return hit

    def known_failure(
        self, state: CycleState, pod: PodInfo, token: tuple[int, int]
    ) -> KnownFailure | None:
        """The failure the pod's class last had at snapshot ``token``, if any.

        Looks the class up for the cycle (``find_feasible_cached`` reuses it) once some
        failure was remembered: before that there is nothing to find.
        """
        if not self._remembered_failures:
            return None
        entry = self.equivalence.lookup(pod)
        state.write(_ENTRY_KEY, entry)
        failure = entry.failure
        return failure if failure is not None and failure.token == token else None

    def remember_failure(self, state: CycleState, failure: KnownFailure) -> None:
        """Keep ``failure`` on the class whose arrays this cycle's Filter read."""
        entry: ClassEntry | None = state.get(_ENTRY_KEY)
        if entry is not None:
            entry.failure = failure
            self._remembered_failures = True

    def find_feasible_cached(
        self, state: CycleState, pod: PodInfo, num_to_find: int, start: int
    ) -> FilterOutcome | None:
        """``find_feasible`` from per-class arrays patched on changed rows; None if not applicable.

        Applies when every active Filter plugin is ``node_local`` and the pod's
        class was seen before, or when every node must be filtered anyway (then
        building the arrays costs what the uncached pass would); the feasible
        window is then cut from the cached verdicts exactly as ``find_feasible``
        would cut it.
        """
        at = self._active_at("filter_row", state.skip_filter_plugins)
        if not at.node_local:
            return None
        snap = self.snapshot
        entry = state.get(_ENTRY_KEY) or self.equivalence.lookup(pod)
        if entry.seen < 2 and num_to_find < snap.n:
            return None
        m = snap.n
        active, names = at.plugins, at.names
        rows = None if entry.filters != names else _dirty_rows(snap, entry, entry.log_position)
        if rows is None:
            entry.codes = np.zeros(m, dtype=np.uint8)
            entry.who = np.full(m, -1, dtype=np.int16)
            entry.raw, entry.fixed_total = {}, None
            entry.scores = ()
            entry.filters = names
            entry.node_generation = snap.node_generation
            entry.resource_version = snap.resources.version
            self._filter_rows(state, pod, active, slice(0, m), entry.codes, entry.who)
        elif _size(rows):
            assert entry.codes is not None and entry.who is not None
            if entry.fits is not None and at.rows and _size(rows) <= ROW_PATH_MAX_ROWS:
                self._filter_few(state, pod, at, _row_list(rows), entry)
            else:
                if at.node_only_filters:
                    # As _filter_few: rows a leading node-only plugin failed stay failed, and
                    # on the others the plugins run from the first one reading pods on. (Only
                    # active plugins' indices occur, so those failures are the ones below it.)
                    first = at.from_pods[0][0] if at.from_pods else len(self.filters)
                    who_now = entry.who[rows]
                    kept = (who_now >= 0) & (who_now < first)
                    if np.count_nonzero(kept):
                        rows = _as_array(rows)[~kept]
                    active = at.from_pods
                codes = np.zeros(_size(rows), dtype=np.uint8)
                who = np.full(_size(rows), -1, dtype=np.int16)
                if _size(rows):
                    self._filter_rows(state, pod, active, rows, codes, who)
                entry.codes[rows] = codes
                entry.who[rows] = who
                if entry.fits is not None:
                    entry.fits[rows] = who < 0
        entry.log_position = snap.log_position
        state.write(_ENTRY_KEY, entry)
        assert entry.who is not None and entry.codes is not None
        if rows is None or entry.fits is None:
            entry.fits = entry.who < 0
        feasible, processed = _window(entry.fits, start % m if m else 0, num_to_find)
        if len(feasible):
            # Statuses are read only when nothing fits; skip building them.
            return FilterOutcome(feasible, processed, NodeToStatus(), set(), m)
        codes_now, who_now = entry.codes.copy(), entry.who.copy()
        unsched = {self.filters[i].name for i in _rejecters(who_now)}

        def resolve(row: int) -> Status | None:
            i = int(who_now[row])
            if i < 0:
                return None
            return self._reason(state, pod, i, row, Code(int(codes_now[row])))

        def count() -> Counter[str]:
            return self._count_reasons(state, pod, codes_now, who_now, {})

        statuses = NodeToStatus.from_arrays(snap.index, codes_now, resolve, None, count)
        return FilterOutcome(feasible, processed, statuses, unsched, m)

    def _filter_rows(
        self,
        state: CycleState,
        pod: PodInfo,
        active: list[tuple[int, Any]],
        idx: NDArray[np.intp] | slice,
        codes: NDArray[np.uint8],
        who: NDArray[np.int16],
    ) -> None:
        """Every active filter on rows ``idx``, recording the first rejecter of each row."""
        nodes = NodeSet(self.snapshot, idx)
        infos: list[NodeInfo] | None = None
        for i, plugin in active:
            if self._vector_filters[i]:
                out = _call(plugin, "Filter", plugin.filter_nodes, state, pod, nodes)
                if isinstance(out, Status):
                    raise _FilterError(out)
                _record(plugin, i, np.asarray(out), who, codes)
                continue
            infos = infos if infos is not None else nodes.infos
            for k, info in enumerate(infos):
                if who[k] >= 0:
                    continue
                status = _call(plugin, "Filter", plugin.filter, state, pod, info)
                if status is not None and status.code != Code.SUCCESS:
                    if status.code == Code.ERROR:
                        raise _FilterError(_filter_failure(status, plugin.name))
                    codes[k] = status.code
                    who[k] = i

    def _filter_few(
        self,
        state: CycleState,
        pod: PodInfo,
        at: _Active,
        rows: list[int],
        entry: ClassEntry,
    ) -> None:
        """``_filter_rows`` on a few logged rows through the plugins' ``filter_row``, into entry.

        The log holds pod changes only (a node change invalidates the entry), so the
        plugins that read the Node object alone (``node_object_only``) ahead of the first
        one that reads pods keep their verdicts: a row one of them failed stays failed, and
        on the others the plugins are re-run from that first one on (those before it passed).
        A node-only plugin after it was not asked where an earlier one failed, so is re-run.
        """
        assert entry.codes is not None and entry.who is not None and entry.fits is not None
        infos = self.snapshot.nodes
        kept, active = at.node_only_filters, at.from_pods
        for row in rows:
            if kept and int(entry.who[row]) in kept:
                continue
            info = infos[row]
            code, who = 0, -1
            for i, plugin in active:
                try:
                    code = plugin.filter_row(state, pod, info)
                except Exception as exc:
                    raise _FilterError(_raised(plugin, "Filter", exc)) from exc
                if code:
                    if code == Code.ERROR:
                        raise _FilterError(
                            Status(Code.ERROR, ("filter returned Error",), plugin.name)
                        )
                    who = i
                    break
            entry.codes[row] = code
            entry.who[row] = who
            entry.fits[row] = who < 0

    def run_score_cached(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> ScoreOutcome | None:
        """``run_score`` from the class's cached raw scores; None if a plugin is not node-local."""
        entry: ClassEntry | None = state.get(_ENTRY_KEY)
        at = self._active_at("score_row", state.skip_score_plugins)
        if entry is None or not at.node_local:
            return None
        snap = self.snapshot
        names = at.names
        if names != entry.scores:
            entry.raw, entry.fixed_total = {}, None
            entry.scores = names
        rows = _dirty_rows(snap, entry, entry.score_position)
        rebuilt = rows is None or entry.fixed_total is None
        n_rows = 0 if rows is None else _size(rows)
        # ``raw`` only ever holds these plugins' arrays (it is emptied when they change).
        complete = len(entry.raw) == len(names)
        if n_rows and not rebuilt and at.rows and n_rows <= ROW_PATH_MAX_ROWS and complete:
            assert rows is not None
            self._score_few(state, pod, at, _row_list(rows), entry)
            n_rows = 0  # patched: nothing left for the vectorised pass
        if rebuilt or n_rows or not complete:
            rebuilt = self._score_patch(state, pod, at, rows, entry) or rebuilt
        # Plugins without NormalizeScore add up once per changed row, not once per cycle.
        if rebuilt:
            entry.fixed_total = np.zeros(snap.n, dtype=np.int64)
            for plugin, weight in at.fixed:
                entry.fixed_total += entry.raw[plugin.name] * weight
        elif rows is not None and n_rows:
            assert entry.fixed_total is not None
            part = np.zeros(n_rows, dtype=np.int64)
            for plugin, weight in at.fixed:
                part += entry.raw[plugin.name][rows] * weight
            entry.fixed_total[rows] = part
        assert entry.fixed_total is not None
        idx = nodes.idx
        total = entry.fixed_total[idx].copy()
        per: list[PluginScores] = []
        for plugin, weight in at.normalizing:
            scores = entry.raw[plugin.name][idx].copy()
            self._normalize_and_check(state, pod, plugin, scores)
            total += scores * weight
            per.append(PluginScores(plugin.name, weight, None, scores))
        entry.score_position = snap.log_position
        return ScoreOutcome(total, per)

    def _score_patch(
        self,
        state: CycleState,
        pod: PodInfo,
        at: _Active,
        rows: NDArray[np.intp] | slice | None,
        entry: ClassEntry,
    ) -> bool:
        """Raw scores of ``rows`` (all rows when None or not cached); True if any was rebuilt."""
        snap = self.snapshot
        rebuilt = False
        plugins = zip(at.plugins, at.checked, at.node_only, strict=True)
        for (plugin, _), checked, node_only in plugins:
            raw = entry.raw.get(plugin.name)
            if raw is None or rows is None:
                raw = self._score_rows(state, pod, plugin, NodeSet(snap, slice(0, snap.n)))
                entry.raw[plugin.name] = raw
                rebuilt = True
                fresh = raw
            elif node_only:
                continue  # the log holds pod changes only: unchanged, as in _score_few
            elif _size(rows):
                fresh = self._score_rows(state, pod, plugin, NodeSet(snap, rows))
                raw[rows] = fresh
            else:
                continue
            if checked:
                self._normalize_and_check(state, pod, plugin, fresh)  # cached values stay checked
        return rebuilt

    def _score_few(
        self,
        state: CycleState,
        pod: PodInfo,
        at: _Active,
        rows: list[int],
        entry: ClassEntry,
    ) -> None:
        """Raw scores and fixed totals of a few changed rows through the plugins' ``score_row``."""
        assert entry.fixed_total is not None
        infos = [self.snapshot.nodes[row] for row in rows]
        parts = [0] * len(rows)
        plugins = zip(at.plugins, at.checked, at.node_only, strict=True)
        for (plugin, weight), checked, node_only in plugins:
            raw = entry.raw[plugin.name]
            if node_only:  # unchanged, as in _filter_few
                if checked:
                    for k, row in enumerate(rows):
                        parts[k] += int(raw[row]) * weight
                continue
            for k, info in enumerate(infos):
                try:
                    v = plugin.score_row(state, pod, info)
                except Exception as exc:
                    raise _FilterError(_raised(plugin, "Score", exc)) from exc
                raw[rows[k]] = v
                if checked:
                    if not MIN_NODE_SCORE <= v <= MAX_NODE_SCORE:
                        raise _FilterError(_invalid_score(plugin, v))
                    parts[k] += v * weight
        for k, row in enumerate(rows):
            entry.fixed_total[row] = parts[k]

    def _score_rows(
        self, state: CycleState, pod: PodInfo, plugin: Any, nodes: NodeSet
    ) -> NDArray[np.int64]:
        if hasattr(plugin, "score_nodes"):
            out = _call(plugin, "Score", plugin.score_nodes, state, pod, nodes)
            if isinstance(out, Status):
                raise _FilterError(out)
            return np.array(out, dtype=np.int64)
        scores = np.empty(len(nodes), dtype=np.int64)
        for k, info in enumerate(nodes.infos):
            v = _call(plugin, "Score", plugin.score, state, pod, info)
            if isinstance(v, Status):
                raise _FilterError(v)
            scores[k] = v
        return scores

    def _normalize_and_check(
        self, state: CycleState, pod: PodInfo, plugin: Any, scores: NDArray[np.int64]
    ) -> None:
        if hasattr(plugin, "normalize_score"):
            status = _call(plugin, "NormalizeScore", plugin.normalize_score, state, pod, scores)
            if status is not None and status.code != Code.SUCCESS:
                raise _FilterError(status.with_plugin(plugin.name))
        # MIN_NODE_SCORE is 0: negatives read as unsigned are huge, so one max() checks both ends.
        unsigned = scores.view(np.uint64)
        if len(scores) and unsigned[unsigned.argmax()] > MAX_NODE_SCORE:
            bad = scores[(scores < MIN_NODE_SCORE) | (scores > MAX_NODE_SCORE)][0]
            raise _FilterError(_invalid_score(plugin, bad))

    def _nominated_rows(self, pod: PodInfo) -> set[int]:
        """Rows whose node has pods nominated to it that outrank or equal ``pod``."""
        nominator = self.handle.nominator
        if nominator is None or not len(nominator):  # type: ignore[arg-type]
            return set()
        rows = set()
        for name in nominator.nodes_with_nominated_pods():  # type: ignore[attr-defined]
            row = self.snapshot.index.get(name)
            if row is not None and any(
                p.priority >= pod.priority and p.uid != pod.uid
                for p in nominator.nominated_pods_for_node(name)
            ):
                rows.add(row)
        return rows

    def _recheck_nominated(
        self,
        state: CycleState,
        pod: PodInfo,
        rows: NDArray[np.intp] | None,
        passing: NDArray[np.intp],
        nominated: set[int],
        codes: NDArray[np.uint8],
        who: NDArray[np.int16],
        extra: dict[int, Status],
    ) -> NDArray[np.intp]:
        """Upstream RunFilterPluginsWithNominatedPods on the passing nodes with nominations."""
        from ksched.framework.nominated import filter_with_nominated_pods

        keep = []
        names = [p.name for p in self.filters]
        for pos in passing.tolist():
            row = pos if rows is None else int(rows[pos])
            if row in nominated:
                status = filter_with_nominated_pods(self, state, pod, self.snapshot.nodes[row])
                if status is not None and status.code != Code.SUCCESS:
                    if status.code == Code.ERROR:
                        raise _FilterError(status)
                    codes[pos] = status.code
                    who[pos] = names.index(status.plugin) if status.plugin in names else 0
                    extra[pos] = status
                    continue
            keep.append(pos)
        return np.asarray(keep, dtype=np.intp)

    def _scalar_filter(
        self,
        state: CycleState,
        pod: PodInfo,
        rows: NDArray[np.intp] | None,
        passing: NDArray[np.intp],
        scalar: list[int],
        need: int,
        codes: NDArray[np.uint8],
        who: NDArray[np.int16],
        statuses: dict[int, Status],
    ) -> tuple[NDArray[np.intp], int]:
        """Per-node plugins over the nodes the vectorised ones passed, until ``need`` fit."""
        infos = self.snapshot.nodes
        found: list[int] = []
        last = -1
        for pos in passing.tolist():
            if len(found) >= need:
                break
            info = infos[pos if rows is None else int(rows[pos])]
            for i in scalar:
                plugin = self.filters[i]
                status = _call(plugin, "Filter", plugin.filter, state, pod, info)
                if status is not None and status.code != Code.SUCCESS:
                    if status.code == Code.ERROR:
                        raise _FilterError(_filter_failure(status, plugin.name))
                    codes[pos] = status.code
                    who[pos] = i
                    statuses[pos] = status.with_plugin(plugin.name)
                    break
            else:
                found.append(pos)
                last = pos
        if len(found) < need:
            last = -1
        return np.asarray(found, dtype=np.intp), last

    def _count_reasons(
        self,
        state: CycleState,
        pod: PodInfo,
        codes: NDArray[np.uint8],
        who: NDArray[np.int16],
        extra: dict[int, Status],
    ) -> Counter[str]:
        """Every failed row's reasons, counted: as ``_reason`` row by row, but a plugin with
        ``filter_reasons_nodes`` answers for all its rows in one vectorised call."""
        counts: Counter[str] = Counter()
        failed = np.flatnonzero(codes)
        for row in extra:
            if codes[row]:
                counts.update(extra[row].reasons)
        if extra:
            failed = failed[~np.isin(failed, np.fromiter(extra, dtype=np.intp))]
        by = who[failed]
        for i in np.flatnonzero(np.bincount(by[by >= 0])).tolist():
            rows = failed[by == i]
            plugin = self.filters[i]
            vectorised = getattr(plugin, "filter_reasons_nodes", None)
            out = None
            if vectorised is not None:
                nodes = NodeSet(self.snapshot, rows)
                out = _call(plugin, "Filter", vectorised, state, pod, nodes)
            if out is not None and not isinstance(out, Status):
                given = np.zeros(len(rows), dtype=np.bool_)
                for reason, mask in out:
                    n = int(np.count_nonzero(mask))
                    if n:
                        counts[reason] += n
                        given |= mask
                rows = rows[~given]  # none of its reasons applies: as _reason says then
            for row in rows.tolist():
                counts.update(self._reason(state, pod, i, row, Code(int(codes[row]))).reasons)
        return counts

    def _reason(self, state: CycleState, pod: PodInfo, i: int, row: int, code: Code) -> Status:
        plugin = self.filters[i]
        if hasattr(plugin, "filter"):
            status = _call(plugin, "Filter", plugin.filter, state, pod, self.snapshot.nodes[row])
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(plugin.name)  # type: ignore[no-any-return]
        reason = (
            getattr(plugin, "filter_reason", None) or f"node(s) didn't satisfy plugin {plugin.name}"
        )
        return Status(code, (reason,), plugin.name)

    def run_filters_on_node(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Every Filter plugin on one node, first failure wins (preemption, explain)."""
        nodes = NodeSet(self.snapshot, np.array([node.index], dtype=np.intp))
        for i, plugin in enumerate(self.filters):
            if plugin.name in state.skip_filter_plugins:
                continue
            if hasattr(plugin, "filter"):
                status = _call(plugin, "Filter", plugin.filter, state, pod, node)
            else:
                ok = np.asarray(plugin.filter_nodes(state, pod, nodes))
                status = None
                if (ok.dtype == np.bool_ and not ok[0]) or (ok.dtype != np.bool_ and ok[0]):
                    status = self._reason(state, pod, i, node.index, Code(int(ok[0]) or 2))
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(plugin.name)  # type: ignore[no-any-return]
        return None

    def run_post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status]:
        """PostFilter plugins until one succeeds or returns other than Unschedulable (upstream)."""
        reasons: list[str] = []
        for plugin in self.post_filter:
            out = _call(plugin, "PostFilter", plugin.post_filter, state, pod, statuses)
            if isinstance(out, Status):
                return None, out
            result, status = out
            if status is None or status.code == Code.SUCCESS:
                return result, Status(Code.SUCCESS, (), plugin.name)
            if status.code not in (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE):
                return result, status.with_plugin(plugin.name)
            reasons.extend(status.reasons)
        return None, Status(Code.UNSCHEDULABLE, tuple(reasons))

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> Status | None:
        for plugin in self.pre_score:
            status = _call(plugin, "PreScore", plugin.pre_score, state, pod, nodes)
            if status is None:
                continue
            if status.code == Code.SKIP:
                state.skip_score_plugins.add(plugin.name)
            elif status.code != Code.SUCCESS:
                return status.with_plugin(plugin.name)  # type: ignore[no-any-return]
        return None

    def run_score(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet, keep_raw: bool = False
    ) -> ScoreOutcome:
        """Score, normalise, range-check and weigh every plugin (upstream RunScorePlugins)."""
        total = np.zeros(len(nodes), dtype=np.int64)
        per: list[PluginScores] = []
        skip = state.skip_score_plugins
        for plugin, weight in self.scores:
            if plugin.name in skip:
                continue
            scores = self._score_rows(state, pod, plugin, nodes)
            raw = scores.copy() if keep_raw else None
            self._normalize_and_check(state, pod, plugin, scores)
            total += scores * weight
            per.append(PluginScores(plugin.name, weight, raw, scores))
        return ScoreOutcome(total, per)

    # -- reserve / permit / binding cycle ----------------------------------------
    def run_reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.reserve:
            status = _call(plugin, "Reserve", plugin.reserve, state, pod, node)
            if status is not None and status.code != Code.SUCCESS:
                return _point_failure(status, plugin.name, "Reserve")
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None:
        """Every Reserve plugin's Unreserve, in reverse order (they must be idempotent)."""
        for plugin in reversed(self.reserve):
            _call(plugin, "Unreserve", plugin.unreserve, state, pod, node)

    def run_permit(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        """Returns None, a rejection, or Wait after registering the pod as waiting."""
        waits: dict[str, float] = {}
        for plugin in self.permit:
            out = _call(plugin, "Permit", plugin.permit, state, pod, node)
            if isinstance(out, Status):
                return out
            status, timeout = out
            if status is None or status.code == Code.SUCCESS:
                continue
            if status.code == Code.WAIT:
                waits[plugin.name] = min(float(timeout), MAX_PERMIT_TIMEOUT)
                continue
            if status.is_rejected:
                return status.with_plugin(plugin.name)  # type: ignore[no-any-return]
            return status.with_plugin(plugin.name)  # type: ignore[no-any-return]
        if waits:
            now = self.handle.clock.now()
            wp = WaitingPod(
                pod,
                node,
                pending={n: now + t for n, t in waits.items()},
                timeouts=dict(waits),
            )
            self.handle.waiting_pods.add(wp)
            return Status(Code.WAIT, ("one or more plugins asked to wait",))
        return None

    def run_pre_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.pre_bind:
            status = _call(plugin, "PreBind", plugin.pre_bind, state, pod, node)
            if status is not None and status.code != Code.SUCCESS:
                return status.with_plugin(plugin.name)  # type: ignore[no-any-return]
        return None

    def run_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.bind:
            status = _call(plugin, "Bind", plugin.bind, state, pod, node)
            if status is not None and status.code == Code.SKIP:
                continue
            if status is not None and status.code != Code.SUCCESS:
                return _point_failure(status, plugin.name, "Bind")
            return None
        return SKIP

    def run_post_bind(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for plugin in self.post_bind:
            _call(plugin, "PostBind", plugin.post_bind, state, pod, node)


class _FilterError(Exception):
    """Carries an Error status out of a cycle (the scheduler turns it back into a Status)."""

    def __init__(self, status: Status) -> None:
        super().__init__(str(status))
        self.status = status


CycleError = _FilterError


_ENTRY_KEY = "ksched/equivalence-entry"
_PLUGINS_WITH_NODES = "ksched/pre-filter-plugins-with-nodes"


def _invalid_score(plugin: Any, score: object) -> Status:
    return Status(
        Code.ERROR,
        (
            "applying score defaultWeights on Score plugins: "
            f'plugin "{plugin.name}" returns an invalid score {score}, it should in '
            f"the range of [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing",
        ),
        plugin.name,
    )


def _dirty_rows(snap: Any, entry: ClassEntry, position: int) -> NDArray[np.intp] | slice | None:
    """Rows changed since log ``position``; None when the entry must be rebuilt."""
    if not entry.valid_for(snap):
        return None
    memo = entry.dirty
    key = (position, snap.log_position, snap.node_generation)
    if memo is not None and memo[:3] == key:
        return memo[3]
    rows = _changed_rows(snap, position)
    entry.dirty = (*key, rows)
    return rows


def _changed_rows(snap: Any, position: int) -> NDArray[np.intp] | slice | None:
    """``_dirty_rows`` of a valid entry, worked out from the log."""
    changed = snap.rows_changed_since(position)
    if changed is None:
        return None
    if len(changed) < 2:  # the common cases, one pod placed since, or none
        return slice(changed[0], changed[0] + 1) if changed else slice(0, 0)
    if len(changed) < 64:
        rows = sorted(set(changed))
        if rows and rows[-1] - rows[0] + 1 == len(rows):
            return slice(rows[0], rows[-1] + 1)  # contiguous (typically one row): views, no copies
        return np.array(rows, dtype=np.intp)
    # The log repeats rows touched many times: the per-row stamps list the distinct rows in
    # one comparison (a set of a long log cost five times as much); most changed: rebuild.
    rows = snap.rows_stamped_since(position)
    return None if len(rows) > snap.n // 2 else rows


def _size(rows: NDArray[np.intp] | slice) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def _as_array(rows: NDArray[np.intp] | slice) -> NDArray[np.intp]:
    return np.arange(rows.start, rows.stop, dtype=np.intp) if isinstance(rows, slice) else rows


def _row_list(rows: NDArray[np.intp] | slice) -> list[int]:
    if isinstance(rows, slice):
        return list(range(rows.start, rows.stop))
    return rows.tolist()  # type: ignore[no-any-return]


def _point_failure(status: Status, plugin: str, point: str) -> Status:
    """Rejections keep their reasons; errors get upstream's ``running <Point> plugin`` prefix."""
    status = status.with_plugin(plugin)
    if status.code != Code.ERROR or status.message.startswith("running "):
        return status
    return _wrapped(status, f'running {point} plugin "{plugin}"')


def _filter_failure(status: Status, plugin: str) -> Status:
    """Upstream RunFilterPlugins: a non-rejection becomes ``running "X" filter plugin: <err>``."""
    status = status.with_plugin(plugin)
    if status.message.startswith("running "):
        return status
    return _wrapped(status, f'running "{plugin}" filter plugin')


def _joined(parts: list[NDArray[np.intp]]) -> NDArray[np.intp]:
    if not parts:
        return np.zeros(0, dtype=np.intp)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _wrapped(status: Status, context: str) -> Status:
    """An Error status whose message says where it came from, as upstream's fmt.Errorf wrapping."""
    return Status(Code.ERROR, (f"{context}: {status.message}",), status.plugin, status.error)


def _rejecters(who: NDArray[np.int16]) -> list[int]:
    """The distinct filter indices in ``who`` (-1: a row no filter rejected).

    The minimum and maximum bound them and the few indices between are tested
    one by one: a pod is mostly turned down by one or two plugins, and this
    costs a tenth of a ``bincount`` (or ``np.unique``) over every node.
    """
    if not len(who):
        return []
    lo, hi = int(who.min()), int(who.max())
    if lo < 0:
        rest = who[who >= 0]
        if not len(rest):
            return []
        lo = int(rest.min())
    return [i for i in range(lo, hi + 1) if i in (lo, hi) or np.count_nonzero(who == i)]


def _window(fits: NDArray[np.bool_], s: int, num_to_find: int) -> tuple[NDArray[np.intp], int]:
    """The first ``num_to_find`` fitting rows from row ``s`` on, wrapping; and positions read."""
    m = len(fits)
    end = s + num_to_find
    if end <= m and np.count_nonzero(fits[s:end]) == num_to_find:
        # A cluster with room: the next rows all fit, found without listing positions.
        return np.arange(s, end, dtype=np.intp), num_to_find
    b = min(s + max(2 * num_to_find, 512), m)
    passing = fits[s:b].nonzero()[0]
    if len(passing) >= num_to_find:
        return passing[:num_to_find] + s, int(passing[num_to_find - 1]) + 1
    # Not enough near ``s`` (or every row wanted, percentageOfNodesToScore 100): list
    # every fitting row once, in round-robin order from ``s``; a full cluster is read in
    # one pass, not in a dozen pieces.
    rows = fits.nonzero()[0]
    k = int(rows.searchsorted(s))
    if k:
        rows = np.concatenate((rows[k:], rows[:k]))
    if len(rows) < num_to_find:
        return rows, m
    return rows[:num_to_find], (int(rows[num_to_find - 1]) - s) % m + 1


def _segments(start: int, m: int, chunk: int) -> list[tuple[int, int]]:
    """[start, m) then [0, start), in pieces: the first ``chunk`` long, each next one twice
    the last, so that a cluster with room stops after one piece and a full one is read in
    a few vectorised passes, not in ``m / chunk``."""
    out: list[tuple[int, int]] = []
    for lo, hi in ((start, m), (0, start)):
        a = lo
        while a < hi:
            b = min(a + chunk, hi)
            out.append((a, b))
            a, chunk = b, 2 * chunk
    return out


def _record(
    plugin: Any,
    i: int,
    out: NDArray[Any],
    who: NDArray[np.int16],
    codes: NDArray[np.uint8],
) -> None:
    """Note plugin ``i`` as the first rejecter of the nodes it fails that nothing failed before.

    (``count_nonzero`` answers all/any without the per-call overhead of ``all()``/``any()``;
    ``putmask`` writes under a mask at about two thirds the cost of boolean indexing.)
    """
    if out.dtype == np.bool_:
        if np.count_nonzero(out) == len(out):
            return
        newly = ~out
        newly &= who < 0
        np.putmask(codes, newly, _UNSCHED)
    else:
        if not np.count_nonzero(out):
            return
        if np.count_nonzero(out == _ERROR):
            raise _FilterError(Status(Code.ERROR, ("filter returned Error",), plugin.name))
        newly = out != 0
        newly &= who < 0
        np.putmask(codes, newly, out)
    np.putmask(who, newly, i)


def _scatter(values: NDArray[Any], rows: NDArray[np.intp], n: int, fill: int = 0) -> NDArray[Any]:
    out = np.full(n, fill, dtype=values.dtype)
    out[rows] = values
    return out
