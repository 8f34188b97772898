"""Node selectors and label selectors, matched per node and over all nodes at once.

Semantics of k8s.io/component-helpers/scheduling/corev1/nodeaffinity
(``LazyErrorNodeSelector``, ``PreferredSchedulingTerms``,
``GetRequiredNodeAffinity``) and apimachinery ``labels.NewRequirement`` /
``metav1.LabelSelectorAsSelector``:

* the terms of a node selector are ORed, the requirements of a term ANDed;
  a term with neither matchExpressions nor matchFields matches nothing;
* a requirement upstream refuses to parse (unknown operator, In without
  values, Exists with values, Gt with a non-integer, an invalid label key or
  value) makes its whole term match nothing;
* matchFields supports only ``In``/``NotIn`` with exactly one value, and
  compares against the node's fields (``metadata.name``), an unknown field
  reading as the empty string.

The vectorised forms (``mask``) evaluate a requirement for every node from
``ClusterSnapshot.label_codes``: each distinct label value is judged once and
the verdicts are gathered by code, so the per-node work is pure numpy.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

from ksched.api import (
    LabelSelector,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Pod,
    PreferredSchedulingTerm,
)
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeSet

Rows = NDArray[np.intp] | slice
"""Snapshot rows to evaluate: ``NodeSet.idx``."""

NODE_NAME_FIELD: Final = "metadata.name"
IN: Final = "In"
NOT_IN: Final = "NotIn"
EXISTS: Final = "Exists"
DOES_NOT_EXIST: Final = "DoesNotExist"
GT: Final = "Gt"
LT: Final = "Lt"
_LABEL_OPERATORS: Final = frozenset({IN, NOT_IN, EXISTS, DOES_NOT_EXIST, GT, LT})
_POD_SELECTOR_OPERATORS: Final = frozenset({IN, NOT_IN, EXISTS, DOES_NOT_EXIST})


class SelectorError(ValueError):
    """A selector upstream refuses to parse; the message reads like upstream's."""


# -- validation (apimachinery util/validation) -------------------------------------------------
_NAME_RE: Final = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_VALUE_RE: Final = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_DNS1123_SUBDOMAIN_RE: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_GO_INT_RE: Final = re.compile(r"[+-]?[0-9]+")
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def parse_int64(text: str) -> int | None:
    """Go ``strconv.ParseInt(text, 10, 64)``: ASCII digits with an optional sign, in range."""
    if not _GO_INT_RE.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _check_label_key(key: str) -> None:
    """``IsQualifiedName``: an optional DNS-1123 subdomain prefix, '/', and a 63-char name."""
    parts = key.split("/")
    if len(parts) == 2:
        prefix, name = parts
        if not prefix:
            raise SelectorError(f"key: Invalid value: {key!r}: prefix part must be non-empty")
        if len(prefix) > 253 or not _DNS1123_SUBDOMAIN_RE.fullmatch(prefix):
            raise SelectorError(
                f"key: Invalid value: {key!r}: prefix part must be a DNS-1123 subdomain"
            )
    elif len(parts) == 1:
        name = parts[0]
    else:
        raise SelectorError(
            f"key: Invalid value: {key!r}: a qualified name must consist of alphanumeric "
            "characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/'"
        )
    if not name or len(name) > 63 or not _NAME_RE.fullmatch(name):
        raise SelectorError(f"key: Invalid value: {key!r}: name part must be a valid label name")


def _check_label_value(value: str) -> None:
    if len(value) > 63 or not _VALUE_RE.fullmatch(value):
        raise SelectorError(f"values: Invalid value: {value!r}: must be a valid label value")


# -- memoisation of parsed API objects --------------------------------------------------------
K = TypeVar("K")
V = TypeVar("V")


class _Memo(Generic[K, V]):
    """Parsed form of an API object, remembered while the object lives.

    API objects are treated as immutable once handed to the scheduler (as
    ``PodInfo.cache`` does), so the parse of a term is reused by every node
    and every cycle.  Keyed by identity, checked through a weak reference so
    a recycled ``id`` never returns a stale entry.
    """

    def __init__(self, build: Callable[[K], V], limit: int = 8192) -> None:
        self._build = build
        self._limit = limit
        self._entries: dict[int, tuple[weakref.ref[K], V]] = {}

    def __call__(self, obj: K) -> V:
        hit = self._entries.get(id(obj))
        if hit is not None and hit[0]() is obj:
            return hit[1]
        value = self._build(obj)
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[id(obj)] = (weakref.ref(obj), value)
        return value


@dataclass(slots=True)
class _ValueTable:
    """What the vectorised requirements need to know about one ``label_codes`` value table."""

    table: list[str]
    codes: dict[str, int]
    ints: NDArray[np.int64] | None = None
    int_ok: NDArray[np.bool_] | None = None

    def integers(self) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Values parsed as Go int64, plus a trailing slot for code -1 (label absent)."""
        if self.ints is None or self.int_ok is None:
            parsed = [parse_int64(v) for v in self.table]
            self.ints = np.array([0 if p is None else p for p in parsed] + [0], dtype=np.int64)
            self.int_ok = np.array([p is not None for p in parsed] + [False], dtype=bool)
        return self.ints, self.int_ok


_TABLES: dict[int, _ValueTable] = {}


def _value_table(table: list[str]) -> _ValueTable:
    """Index of a snapshot value table; the strong reference keeps its ``id`` unique."""
    hit = _TABLES.get(id(table))
    if hit is not None and hit.table is table:
        return hit
    if len(_TABLES) >= 1024:
        _TABLES.clear()
    hit = _ValueTable(table, {v: i for i, v in enumerate(table)})
    _TABLES[id(table)] = hit
    return hit


# -- label requirements -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LabelRequirement:
    """One parsed ``labels.Requirement`` (matchLabels entries become ``In`` with one value)."""

    key: str
    operator: str
    values: frozenset[str]
    bound: int = 0

    @classmethod
    def parse(
        cls,
        key: str,
        operator: str,
        values: Sequence[str],
        operators: frozenset[str] = _LABEL_OPERATORS,
    ) -> LabelRequirement:
        """Validate as ``labels.NewRequirement``; raise SelectorError where upstream errs."""
        if operator not in operators:
            raise SelectorError(f"{operator!r} is not a valid label selector operator")
        _check_label_key(key)
        bound = 0
        if operator in (IN, NOT_IN) and not values:
            raise SelectorError("values: for 'in', 'notin' operators, values set can't be empty")
        if operator in (EXISTS, DOES_NOT_EXIST) and values:
            raise SelectorError("values: values set must be empty for exists and does not exist")
        if operator in (GT, LT):
            if len(values) != 1:
                raise SelectorError(
                    "values: for 'Gt', 'Lt' operators, exactly one value is required"
                )
            parsed = parse_int64(values[0])
            if parsed is None:
                raise SelectorError(
                    f"values[0]: Invalid value: {values[0]!r}: for 'Gt', 'Lt' operators, "
                    "the value must be an integer"
                )
            bound = parsed
        for v in values:
            _check_label_value(v)
        return cls(key, operator, frozenset(values), bound)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """``labels.Requirement.Matches``."""
        value = labels.get(self.key)
        op = self.operator
        if op == IN:
            return value is not None and value in self.values
        if op == NOT_IN:
            return value is None or value not in self.values
        if op == EXISTS:
            return value is not None
        if op == DOES_NOT_EXIST:
            return value is None
        have = None if value is None else parse_int64(value)
        if have is None:
            return False
        return have > self.bound if op == GT else have < self.bound

    def mask(self, snapshot: ClusterSnapshot, rows: Rows) -> NDArray[np.bool_]:
        """``matches`` for snapshot rows ``rows``, judged once per distinct label value."""
        all_codes, table = snapshot.label_codes(self.key)
        codes = all_codes[rows]
        op = self.operator
        if op == EXISTS:
            return codes >= 0
        if op == DOES_NOT_EXIST:
            return codes < 0
        index = _value_table(table)
        if op in (IN, NOT_IN):
            # One slot per value plus a trailing False that code -1 (absent) reads.
            verdict = np.zeros(len(table) + 1, dtype=bool)
            verdict[[index.codes[v] for v in self.values if v in index.codes]] = True
            hit = verdict[codes]
            return hit if op == IN else ~hit
        ints, ok = index.integers()
        have, valid = ints[codes], ok[codes]
        return valid & (have > self.bound if op == GT else have < self.bound)


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One matchFields entry: ``fields.OneTermEqualSelector`` or its NotEqual twin."""

    key: str
    value: str
    equal: bool

    @classmethod
    def parse(cls, req: NodeSelectorRequirement) -> FieldRequirement:
        if req.operator not in (IN, NOT_IN):
            raise SelectorError(f"{req.operator!r} is not a valid node field selector operator")
        if len(req.values) != 1:
            raise SelectorError(
                f"unexpected number of value ({len(req.values)}) for node field selector "
                f"operator {req.operator!r}"
            )
        return cls(req.key, req.values[0], req.operator == IN)

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.key, "") == self.value) == self.equal

    def mask(self, snapshot: ClusterSnapshot, rows: Rows) -> NDArray[np.bool_]:
        if self.key == NODE_NAME_FIELD:
            same = np.zeros(snapshot.n, dtype=bool)
            row = snapshot.index.get(self.value)
            if row is not None:
                same[row] = True
        else:
            same = np.full(snapshot.n, self.value == "", dtype=bool)
        out = same if self.equal else ~same
        # A node without a name has no fields, and upstream then skips matchFields.
        nameless = snapshot.index.get("")
        if nameless is not None:
            out[nameless] = True
        return out[rows]


# -- node selector terms ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CompiledTerm:
    """A parsed NodeSelectorTerm; a term that failed to parse keeps its error and never matches."""

    labels: tuple[LabelRequirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()
    error: str | None = None

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        if self.error is not None:
            return False
        if not all(r.matches(labels) for r in self.labels):
            return False
        if self.fields and node_name:
            fields = {NODE_NAME_FIELD: node_name}
            return all(r.matches(fields) for r in self.fields)
        return True

    def mask(self, snapshot: ClusterSnapshot, rows: Rows) -> NDArray[np.bool_]:
        ok = np.full(_size(snapshot, rows), self.error is None, dtype=bool)
        if self.error is None:
            for req in self.labels:
                ok &= req.mask(snapshot, rows)
            for field in self.fields:
                ok &= field.mask(snapshot, rows)
        return ok


def _parse_term(term: NodeSelectorTerm) -> CompiledTerm:
    try:
        labels = tuple(
            LabelRequirement.parse(r.key, r.operator, r.values) for r in term.match_expressions
        )
        fields = tuple(FieldRequirement.parse(r) for r in term.match_fields)
    except SelectorError as exc:
        return CompiledTerm(error=str(exc))
    return CompiledTerm(labels, fields)


compile_term: Final = _Memo[NodeSelectorTerm, CompiledTerm](_parse_term)
"""The parsed form of a term (memoised per term object)."""


def is_empty_term(term: NodeSelectorTerm) -> bool:
    return not term.match_expressions and not term.match_fields


@dataclass(frozen=True, slots=True)
class NodeSelectorMatcher:
    """``LazyErrorNodeSelector``: empty terms dropped, unparsable terms kept as never-matching."""

    terms: tuple[CompiledTerm, ...]

    @classmethod
    def from_terms(
        cls, terms: Sequence[NodeSelectorTerm], strict: bool = False
    ) -> NodeSelectorMatcher:
        """``strict`` is ``NewNodeSelector``: raise SelectorError when any term fails to parse."""
        compiled = tuple(compile_term(t) for t in terms if not is_empty_term(t))
        errors = [t.error for t in compiled if t.error is not None]
        if strict and errors:
            raise SelectorError("; ".join(errors))
        return cls(compiled)

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        return any(t.matches(labels, node_name) for t in self.terms)

    def mask(self, snapshot: ClusterSnapshot, rows: Rows) -> NDArray[np.bool_]:
        out = np.zeros(_size(snapshot, rows), dtype=bool)
        for term in self.terms:
            if term.error is None:
                out |= term.mask(snapshot, rows)
        return out


@dataclass(frozen=True, slots=True)
class PreferredTerms:
    """``PreferredSchedulingTerms``: weighted terms; a node scores the sum of matching weights."""

    terms: tuple[tuple[CompiledTerm, int], ...]

    @classmethod
    def from_terms(cls, terms: Sequence[PreferredSchedulingTerm]) -> PreferredTerms:
        """Terms of weight 0 or without requirements are dropped; a parse error raises."""
        kept: list[tuple[CompiledTerm, int]] = []
        errors: list[str] = []
        for t in terms:
            if t.weight == 0 or is_empty_term(t.preference):
                continue
            compiled = compile_term(t.preference)
            if compiled.error is not None:
                errors.append(compiled.error)
            else:
                kept.append((compiled, t.weight))
        if errors:
            raise SelectorError("; ".join(errors))
        return cls(tuple(kept))

    def score(self, labels: Mapping[str, str], node_name: str) -> int:
        return sum(w for term, w in self.terms if term.matches(labels, node_name))

    def scores(self, snapshot: ClusterSnapshot, rows: Rows) -> NDArray[np.int64]:
        out = np.zeros(_size(snapshot, rows), dtype=np.int64)
        for term, weight in self.terms:
            out += term.mask(snapshot, rows) * np.int64(weight)
        return out


def _size(snapshot: ClusterSnapshot, rows: Rows) -> int:
    return len(range(*rows.indices(snapshot.n))) if isinstance(rows, slice) else len(rows)


# -- a pod's required node affinity ---------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RequiredNodeAffinity:
    """``GetRequiredNodeAffinity``: ``spec.nodeSelector`` AND required node affinity terms.

    ``affinity`` is None when the pod has no required node affinity at all
    (then only the nodeSelector counts); an affinity with no terms matches
    no node, as upstream.
    """

    selector: tuple[tuple[str, str], ...]
    affinity: NodeSelectorMatcher | None

    @classmethod
    def of(cls, pod: Pod) -> RequiredNodeAffinity:
        aff = pod.spec.affinity
        node_aff = aff.node_affinity if aff is not None else None
        required: NodeSelector | None = (
            node_aff.required_during_scheduling_ignored_during_execution if node_aff else None
        )
        return cls(
            tuple(pod.spec.node_selector.items()),
            None
            if required is None
            else NodeSelectorMatcher.from_terms(required.node_selector_terms),
        )

    @property
    def empty(self) -> bool:
        """True when every node matches (no nodeSelector, no required affinity)."""
        return not self.selector and self.affinity is None

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        if any(labels.get(k) != v for k, v in self.selector):
            return False
        return self.affinity is None or self.affinity.matches(labels, node_name)

    def mask(self, snapshot: ClusterSnapshot, rows: Rows) -> NDArray[np.bool_]:
        ok = labels_mask(dict(self.selector), snapshot, NodeSet(snapshot, rows))
        if self.affinity is not None:
            ok &= self.affinity.mask(snapshot, rows)
        return ok


_REQUIRED_KEY: Final = "helper/RequiredNodeAffinity"


def required_node_affinity(pod: PodInfo) -> RequiredNodeAffinity:
    """The pod's ``RequiredNodeAffinity``, parsed once per pod (``PodInfo.cache``)."""
    hit = pod.cache.get(_REQUIRED_KEY)
    if hit is None:
        hit = RequiredNodeAffinity.of(pod.pod)
        pod.cache[_REQUIRED_KEY] = hit
    return hit


# -- label selectors (pod selectors) ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LabelSelectorMatcher:
    """``metav1.LabelSelectorAsSelector``: nil matches nothing, empty matches everything."""

    requirements: tuple[LabelRequirement, ...] | None

    @classmethod
    def parse(cls, selector: LabelSelector | None) -> LabelSelectorMatcher:
        """Raise SelectorError where upstream returns an error."""
        if selector is None:
            return cls(None)
        specs: list[tuple[str, str, Sequence[str]]] = [
            (k, IN, (v,)) for k, v in selector.match_labels.items()
        ]
        specs += [(r.key, r.operator, r.values) for r in selector.match_expressions]
        return cls(
            tuple(LabelRequirement.parse(k, op, vs, _POD_SELECTOR_OPERATORS) for k, op, vs in specs)
        )

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.requirements is None:
            return False
        return all(r.matches(labels) for r in self.requirements)


_NOTHING: Final = LabelSelectorMatcher(None)


def _parse_or_nothing(selector: LabelSelector) -> LabelSelectorMatcher:
    try:
        return LabelSelectorMatcher.parse(selector)
    except SelectorError:
        return _NOTHING


_compiled_label_selector: Final = _Memo[LabelSelector, LabelSelectorMatcher](_parse_or_nothing)


def label_selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """Does ``selector`` select ``labels``?  An unparsable selector selects nothing.

    Callers that must report the parse error (as upstream's PreFilters do)
    use ``LabelSelectorMatcher.parse``.
    """
    if selector is None:
        return False
    return _compiled_label_selector(selector).matches(labels)


# -- conveniences over raw API objects -----------------------------------------------------------
def requirement_matches(req: NodeSelectorRequirement, labels: Mapping[str, str]) -> bool:
    """One matchExpressions entry against ``labels``; an unparsable one matches nothing."""
    try:
        parsed = LabelRequirement.parse(req.key, req.operator, req.values)
    except SelectorError:
        return False
    return parsed.matches(labels)


def term_matches(term: NodeSelectorTerm, labels: Mapping[str, str], node_name: str) -> bool:
    return not is_empty_term(term) and compile_term(term).matches(labels, node_name)


def terms_match(
    terms: Sequence[NodeSelectorTerm], labels: Mapping[str, str], node_name: str
) -> bool:
    """Required node selector terms (ORed) against one node's labels and name."""
    return NodeSelectorMatcher.from_terms(terms).matches(labels, node_name)


def terms_mask(
    terms: Sequence[NodeSelectorTerm], snapshot: ClusterSnapshot, nodes: NodeSet
) -> NDArray[np.bool_]:
    """``terms_match`` for every node of ``nodes``, vectorised over label codes."""
    return NodeSelectorMatcher.from_terms(terms).mask(snapshot, nodes.idx)


def labels_mask(
    selector: Mapping[str, str], snapshot: ClusterSnapshot, nodes: NodeSet
) -> NDArray[np.bool_]:
    """``spec.nodeSelector`` (``labels.SelectorFromSet``): every key present with that value."""
    ok = np.ones(len(nodes), dtype=bool)
    for key, value in selector.items():
        codes, table = snapshot.label_codes(key)
        code = _value_table(table).codes.get(value)
        if code is None:
            return np.zeros(len(nodes), dtype=bool)
        ok &= codes[nodes.idx] == code
    return ok
