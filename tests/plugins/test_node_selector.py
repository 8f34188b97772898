"""Node selector and label selector matching (component-helpers nodeaffinity, apimachinery labels).

The vectorised masks are held equal to the per-node matchers, on tables and
on generated clusters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ksched.api import (
    LabelSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PreferredSchedulingTerm,
)
from ksched.framework.plugins.helper.node_selector import (
    LabelRequirement,
    LabelSelectorMatcher,
    NodeSelectorMatcher,
    PreferredTerms,
    RequiredNodeAffinity,
    SelectorError,
    label_selector_matches,
    labels_mask,
    parse_int64,
    requirement_matches,
    terms_mask,
    terms_match,
)
from ksched.framework.snapshot import ClusterSnapshot
from ksched.testing.builders import make_node, make_pod, make_snapshot, node_affinity, term
from ksched.testing.builders import requirement as req


def _term(data: dict[str, Any]) -> NodeSelectorTerm:
    return NodeSelectorTerm.model_validate(data)


# (operator, values, node labels, matches)
REQUIREMENT_CASES = [
    pytest.param("In", ["a", "b"], {"k": "b"}, True, id="in-hit"),
    pytest.param("In", ["a"], {"k": "c"}, False, id="in-miss"),
    pytest.param("In", ["a"], {}, False, id="in-absent"),
    pytest.param("In", [""], {"k": ""}, True, id="in-empty-value"),
    pytest.param("NotIn", ["a"], {"k": "c"}, True, id="not-in-other"),
    pytest.param("NotIn", ["a"], {"k": "a"}, False, id="not-in-listed"),
    pytest.param("NotIn", ["a"], {}, True, id="not-in-absent"),
    pytest.param("Exists", [], {"k": ""}, True, id="exists-empty-value"),
    pytest.param("Exists", [], {"x": "1"}, False, id="exists-absent"),
    pytest.param("DoesNotExist", [], {}, True, id="does-not-exist"),
    pytest.param("DoesNotExist", [], {"k": "1"}, False, id="does-not-exist-present"),
    pytest.param("Gt", ["5"], {"k": "6"}, True, id="gt"),
    pytest.param("Gt", ["5"], {"k": "5"}, False, id="gt-equal"),
    pytest.param("Gt", ["5"], {"k": "-7"}, False, id="gt-negative-label"),
    pytest.param("Gt", ["0005"], {"k": "+6"}, True, id="gt-go-int-syntax"),
    pytest.param("Lt", ["5"], {"k": "4"}, True, id="lt"),
    pytest.param("Lt", ["5"], {"k": "4.0"}, False, id="lt-float-label"),
    pytest.param("Lt", ["5"], {"k": " 4"}, False, id="lt-space-label"),
    pytest.param("Lt", ["5"], {}, False, id="lt-absent"),
    pytest.param("Gt", ["5"], {"k": "99999999999999999999"}, False, id="gt-label-overflows-int64"),
]


@pytest.mark.parametrize(("op", "values", "labels", "expected"), REQUIREMENT_CASES)
def test_requirement(op: str, values: list[str], labels: dict[str, str], expected: bool) -> None:
    parsed = LabelRequirement.parse("k", op, values)
    assert parsed.matches(labels) is expected
    snap = make_snapshot([make_node("n", labels=labels), make_node("other", labels={"k": "zzz"})])
    assert parsed.mask(snap, slice(0, 1)).tolist() == [expected]
    raw = NodeSelectorRequirement.model_validate(req("k", op, *values))
    assert requirement_matches(raw, labels) is expected


@pytest.mark.parametrize(
    ("key", "op", "values", "message"),
    [
        pytest.param("k", "In", [], "can't be empty", id="in-no-values"),
        pytest.param("k", "NotIn", [], "can't be empty", id="not-in-no-values"),
        pytest.param("k", "Exists", ["a"], "must be empty", id="exists-values"),
        pytest.param("k", "DoesNotExist", ["a"], "must be empty", id="does-not-exist-values"),
        pytest.param("k", "Gt", ["1", "2"], "exactly one value", id="gt-two-values"),
        pytest.param("k", "Lt", ["1.5"], "must be an integer", id="lt-float"),
        pytest.param(
            "k", "Gt", ["-1"], "valid label value", id="gt-negative-is-invalid-label-value"
        ),
        pytest.param("k", "Equals", ["a"], "not a valid", id="unknown-operator"),
        pytest.param("", "Exists", [], "name part", id="empty-key"),
        pytest.param("a/b/c", "Exists", [], "qualified name", id="two-slashes"),
        pytest.param("/k", "Exists", [], "prefix part must be non-empty", id="empty-prefix"),
        pytest.param("Bad_Prefix/k", "Exists", [], "DNS-1123", id="bad-prefix"),
        pytest.param("k" * 64, "Exists", [], "name part", id="name-too-long"),
        pytest.param("k", "In", ["bad value"], "valid label value", id="bad-value"),
    ],
)
def test_requirement_parse_errors(key: str, op: str, values: list[str], message: str) -> None:
    with pytest.raises(SelectorError, match=message):
        LabelRequirement.parse(key, op, values)


def test_valid_qualified_keys() -> None:
    for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone", "a", "A-b_c.d", "x.y/Z9"):
        LabelRequirement.parse(key, "Exists", [])


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("0204", 204),
        ("+5", 5),
        ("-12", -12),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("-9223372036854775809", None),
        ("1_000", None),
        (" 1", None),
        ("1.0", None),
        ("", None),
        ("\u0663", None),
        ("0x10", None),
    ],
)
def test_parse_int64_is_go_parse_int(text: str, value: int | None) -> None:
    assert parse_int64(text) == value


# (terms JSON, node labels, node name, matches)
TERM_CASES = [
    pytest.param(
        [term(req("a", "In", "1"), req("b", "Exists"))],
        {"a": "1", "b": ""},
        "n",
        True,
        id="anded-all",
    ),
    pytest.param(
        [term(req("a", "In", "1"), req("b", "Exists"))],
        {"a": "1"},
        "n",
        False,
        id="anded-one-fails",
    ),
    pytest.param(
        [term(req("a", "In", "1")), term(req("b", "Exists"))], {"b": "x"}, "n", True, id="ored"
    ),
    pytest.param([term()], {}, "n", False, id="empty-term"),
    pytest.param([], {}, "n", False, id="no-terms"),
    pytest.param([term(), term(req("a", "DoesNotExist"))], {}, "n", True, id="empty-term-skipped"),
    pytest.param([term(fields=[req("metadata.name", "In", "n")])], {}, "n", True, id="field-in"),
    pytest.param(
        [term(fields=[req("metadata.name", "In", "m")])], {}, "n", False, id="field-in-other"
    ),
    pytest.param(
        [term(fields=[req("metadata.name", "In", "n", "m")])],
        {},
        "n",
        False,
        id="field-in-two-values-invalid",
    ),
    pytest.param(
        [term(fields=[req("metadata.name", "NotIn", "m")])], {}, "n", True, id="field-not-in"
    ),
    pytest.param(
        [term(fields=[req("spec.unknown", "In", "")])], {}, "n", True, id="unknown-field-is-empty"
    ),
    pytest.param(
        [term(fields=[req("metadata.name", "Gt", "1")])], {}, "n", False, id="field-gt-invalid"
    ),
    pytest.param(
        [term(req("a", "Exists"), fields=[req("metadata.name", "In", "n")])],
        {"a": "1"},
        "n",
        True,
        id="labels-and-fields",
    ),
    pytest.param(
        [term(req("a", "Exists"), fields=[req("metadata.name", "In", "n")])],
        {},
        "n",
        False,
        id="labels-fail-fields-pass",
    ),
    pytest.param(
        [term(req("a", "Exists"), fields=[req("metadata.name", "In", "m")])],
        {"a": "1"},
        "n",
        False,
        id="labels-pass-fields-fail",
    ),
]


@pytest.mark.parametrize(("terms", "labels", "name", "expected"), TERM_CASES)
def test_terms(
    terms: list[dict[str, Any]], labels: dict[str, str], name: str, expected: bool
) -> None:
    parsed = [_term(t) for t in terms]
    assert terms_match(parsed, labels, name) is expected
    snap = make_snapshot([make_node("zz", labels={"a": "2"}), make_node(name, labels=labels)])
    nodes = snap.node_set(np.array([1], dtype=np.intp))
    assert terms_mask(parsed, snap, nodes).tolist() == [expected]


def test_strict_node_selector_reports_parse_errors() -> None:
    with pytest.raises(SelectorError, match="not a valid"):
        NodeSelectorMatcher.from_terms([_term(term(req("a", "Near", "1")))], strict=True)
    lazy = NodeSelectorMatcher.from_terms([_term(term(req("a", "Near", "1")))])
    assert not lazy.matches({"a": "1"}, "n")


def test_preferred_terms_weights() -> None:
    terms = [
        PreferredSchedulingTerm.model_validate(
            {"weight": 3, "preference": term(req("a", "Exists"))}
        ),
        PreferredSchedulingTerm.model_validate(
            {"weight": 5, "preference": term(req("b", "In", "1"))}
        ),
        PreferredSchedulingTerm.model_validate(
            {"weight": 0, "preference": term(req("a", "Exists"))}
        ),
        PreferredSchedulingTerm.model_validate({"weight": 9, "preference": term()}),
    ]
    pref = PreferredTerms.from_terms(terms)
    labels = [{"a": "x", "b": "1"}, {"a": "x"}, {"b": "1"}, {}]
    assert [pref.score(lab, "n") for lab in labels] == [8, 3, 5, 0]
    snap = make_snapshot([make_node(f"n{i}", labels=lab) for i, lab in enumerate(labels)])
    assert pref.scores(snap, slice(0, 4)).tolist() == [8, 3, 5, 0]
    bad = PreferredSchedulingTerm.model_validate({"weight": 1, "preference": term(req("a", "In"))})
    with pytest.raises(SelectorError):
        PreferredTerms.from_terms([bad])


def test_required_node_affinity_combines_selector_and_terms() -> None:
    pod = make_pod(
        node_selector={"zone": "a"}, affinity=node_affinity([term(req("gpu", "Exists"))])
    )
    required = RequiredNodeAffinity.of(pod)
    assert not required.empty
    labels = [{"zone": "a", "gpu": "1"}, {"zone": "a"}, {"gpu": "1"}, {}]
    assert [required.matches(lab, "n") for lab in labels] == [True, False, False, False]
    snap = make_snapshot([make_node(f"n{i}", labels=lab) for i, lab in enumerate(labels)])
    assert required.mask(snap, slice(0, 4)).tolist() == [True, False, False, False]
    assert RequiredNodeAffinity.of(make_pod()).empty


def test_labels_mask() -> None:
    snap = make_snapshot(
        [
            make_node("a", labels={"x": "1", "y": "2"}),
            make_node("b", labels={"x": "1"}),
            make_node("c"),
        ]
    )
    assert labels_mask({"x": "1"}, snap, snap.all_nodes()).tolist() == [True, True, False]
    assert labels_mask({"x": "1", "y": "2"}, snap, snap.all_nodes()).tolist() == [
        True,
        False,
        False,
    ]
    assert labels_mask({"x": "3"}, snap, snap.all_nodes()).tolist() == [False, False, False]
    assert labels_mask({}, snap, snap.all_nodes()).tolist() == [True, True, True]


# (selector JSON or None, pod labels, matches)
LABEL_SELECTOR_CASES = [
    pytest.param(None, {"a": "1"}, False, id="nil-selects-nothing"),
    pytest.param({}, {"a": "1"}, True, id="empty-selects-everything"),
    pytest.param({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True, id="match-labels"),
    pytest.param({"matchLabels": {"a": "1"}}, {"a": "2"}, False, id="match-labels-other-value"),
    pytest.param(
        {"matchLabels": {"a": "1"}, "matchExpressions": [req("b", "In", "2", "3")]},
        {"a": "1", "b": "3"},
        True,
        id="labels-and-expressions",
    ),
    pytest.param(
        {"matchLabels": {"a": "1"}, "matchExpressions": [req("b", "In", "2")]},
        {"a": "1"},
        False,
        id="expression-fails",
    ),
    pytest.param({"matchExpressions": [req("b", "NotIn", "2")]}, {}, True, id="not-in-absent"),
    pytest.param({"matchExpressions": [req("b", "Exists")]}, {"b": ""}, True, id="exists"),
    pytest.param(
        {"matchExpressions": [req("b", "DoesNotExist")]}, {"b": ""}, False, id="does-not-exist"
    ),
    pytest.param(
        {"matchExpressions": [req("b", "Gt", "1")]},
        {"b": "5"},
        False,
        id="gt-not-allowed-in-label-selector",
    ),
    pytest.param(
        {"matchExpressions": [req("b", "In")]}, {"b": ""}, False, id="invalid-selects-nothing"
    ),
]


@pytest.mark.parametrize(("selector", "labels", "expected"), LABEL_SELECTOR_CASES)
def test_label_selector(
    selector: dict[str, Any] | None, labels: dict[str, str], expected: bool
) -> None:
    parsed = None if selector is None else LabelSelector.model_validate(selector)
    assert label_selector_matches(parsed, labels) is expected


def test_label_selector_parse_error() -> None:
    with pytest.raises(SelectorError, match="not a valid label selector operator"):
        LabelSelectorMatcher.parse(
            LabelSelector.model_validate({"matchExpressions": [req("b", "Gt", "1")]})
        )


# -- generated clusters: the masks equal the per-node matchers -------------------------------------
KEYS = ["zone", "tier", "size"]
VALUES = ["a", "b", "1", "7", "12", "x1", ""]
label_sets = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)
requirements = st.one_of(
    st.builds(
        lambda k, op, vs: req(k, op, *vs),
        st.sampled_from(KEYS),
        st.sampled_from(["In", "NotIn"]),
        st.lists(st.sampled_from(VALUES), min_size=1, max_size=3),
    ),
    st.builds(
        lambda k, op: req(k, op), st.sampled_from(KEYS), st.sampled_from(["Exists", "DoesNotExist"])
    ),
    st.builds(
        lambda k, op, v: req(k, op, v),
        st.sampled_from(KEYS),
        st.sampled_from(["Gt", "Lt"]),
        st.sampled_from(["0", "5", "10", "x"]),
    ),
)
field_requirements = st.builds(
    lambda op, v: req("metadata.name", op, v),
    st.sampled_from(["In", "NotIn"]),
    st.sampled_from(["n0", "n1", "n9"]),
)
terms_strategy = st.lists(
    st.builds(
        lambda e, f: term(*e, fields=f),
        st.lists(requirements, max_size=3),
        st.lists(field_requirements, max_size=1),
    ),
    max_size=3,
)


def _cluster(labels: list[dict[str, str]]) -> ClusterSnapshot:
    return make_snapshot([make_node(f"n{i}", labels=lab) for i, lab in enumerate(labels)])


@settings(max_examples=200, deadline=None)
@given(st.lists(label_sets, min_size=1, max_size=6), terms_strategy, st.data())
def test_mask_equals_per_node_match(
    labels: list[dict[str, str]], terms: list[dict[str, Any]], data: st.DataObject
) -> None:
    snap = _cluster(labels)
    matcher = NodeSelectorMatcher.from_terms([_term(t) for t in terms])
    expected = [matcher.matches(info.labels, info.name) for info in snap.nodes]
    assert matcher.mask(snap, slice(0, snap.n)).tolist() == expected
    rows = data.draw(st.lists(st.integers(0, snap.n - 1), max_size=snap.n))
    idx = np.array(rows, dtype=np.intp)
    assert matcher.mask(snap, idx).tolist() == [expected[r] for r in rows]
