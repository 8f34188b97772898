"""Node selector and label selector matching, per node and over all nodes at once.

Semantics of k8s.io/component-helpers/scheduling/corev1/nodeaffinity
(``NodeSelectorRequirementsAsSelector``, matchFields on ``metadata.name``)
and apimachinery ``labels.Selector``: terms are ORed, the requirements of a
term ANDed, and an empty term matches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from ksched.api import LabelSelector, NodeSelectorRequirement, NodeSelectorTerm
from ksched.framework.snapshot import ClusterSnapshot, NodeSet


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def requirement_matches(req: NodeSelectorRequirement, labels: Mapping[str, str]) -> bool:
    op = req.operator
    values = req.values
    if op == "In":
        return req.key in labels and labels[req.key] in values
    if op == "NotIn":
        return req.key not in labels or labels[req.key] not in values
    if op == "Exists":
        return req.key in labels
    if op == "DoesNotExist":
        return req.key not in labels
    if op in ("Gt", "Lt"):
        if req.key not in labels or len(values) != 1:
            return False
        have, want = _int(labels[req.key]), _int(values[0])
        if have is None or want is None:
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: NodeSelectorTerm, labels: Mapping[str, str], node_name: str) -> bool:
    if not term.match_expressions and not term.match_fields:
        return False
    fields = {"metadata.name": node_name}
    return all(requirement_matches(r, labels) for r in term.match_expressions) and all(
        requirement_matches(r, fields) for r in term.match_fields
    )


def terms_match(
    terms: Sequence[NodeSelectorTerm], labels: Mapping[str, str], node_name: str
) -> bool:
    return any(term_matches(t, labels, node_name) for t in terms)


def _requirement_mask(
    req: NodeSelectorRequirement, codes: NDArray[np.int32], table: list[str]
) -> NDArray[np.bool_]:
    """One requirement over every node, from the nodes' label codes for ``req.key``."""
    op = req.operator
    present = codes >= 0
    if op in ("In", "NotIn"):
        wanted = np.array([v in req.values for v in table] + [False], dtype=bool)
        hit = wanted[codes]  # code -1 reads the trailing False
        return hit if op == "In" else ~hit
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return ~present
    if op in ("Gt", "Lt") and len(req.values) == 1 and _int(req.values[0]) is not None:
        want = _int(req.values[0])
        assert want is not None
        ok = [
            (_int(v) is not None)
            and ((_int(v) or 0) > want if op == "Gt" else (_int(v) or 0) < want)
            for v in table
        ]
        return np.array([*ok, False], dtype=bool)[codes]
    return np.zeros(len(codes), dtype=bool)


def terms_mask(
    terms: Sequence[NodeSelectorTerm], snapshot: ClusterSnapshot, nodes: NodeSet
) -> NDArray[np.bool_]:
    """``terms_match`` for every node of ``nodes``, vectorised over label codes."""
    out = np.zeros(len(nodes), dtype=bool)
    names: NDArray[np.object_] | None = None
    for term in terms:
        if not term.match_expressions and not term.match_fields:
            continue
        ok = np.ones(len(nodes), dtype=bool)
        for req in term.match_expressions:
            codes, table = snapshot.label_codes(req.key)
            ok &= _requirement_mask(req, codes[nodes.idx], table)
        for req in term.match_fields:
            if req.key != "metadata.name":
                ok[:] = False
                continue
            if names is None:
                names = np.array([i.name for i in nodes.infos], dtype=object)
            ok &= np.array(
                [requirement_matches(req, {"metadata.name": n}) for n in names], dtype=bool
            )
        out |= ok
    return out


def labels_mask(
    selector: Mapping[str, str], snapshot: ClusterSnapshot, nodes: NodeSet
) -> NDArray[np.bool_]:
    """``spec.nodeSelector``: every key present with exactly that value."""
    ok = np.ones(len(nodes), dtype=bool)
    for key, value in selector.items():
        codes, table = snapshot.label_codes(key)
        code = table.index(value) if value in table else -2
        ok &= codes[nodes.idx] == code
    return ok


def label_selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """apimachinery LabelSelectorAsSelector: nil matches nothing, empty matches everything."""
    if selector is None:
        return False
    for k, v in selector.match_labels.items():
        if labels.get(k) != v:
            return False
    for req in selector.match_expressions:
        op = req.operator
        if op == "In" and not (req.key in labels and labels[req.key] in req.values):
            return False
        if op == "NotIn" and req.key in labels and labels[req.key] in req.values:
            return False
        if op == "Exists" and req.key not in labels:
            return False
        if op == "DoesNotExist" and req.key in labels:
            return False
    return True
