"""Patch application and selector parsing, table-driven against upstream's documented behaviour."""

from __future__ import annotations

from typing import Any

import pytest

from ksched.apiserver.errors import StatusError
from ksched.apiserver.patch import PatchError, json_patch, merge_patch, strategic_merge
from ksched.apiserver.selectors import parse_field_selector, parse_label_selector

POD: dict[str, Any] = {
    "metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
    "spec": {
        "containers": [
            {"name": "app", "image": "v1", "env": [{"name": "E", "value": "1"}]},
            {"name": "side", "image": "s1"},
        ],
        "tolerations": [{"key": "t"}],
    },
}


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"metadata": {"labels": {"a": None, "c": "3"}}}, {"a": None, "c": "3"}),
        ({"spec": {"tolerations": [{"key": "u"}]}}, None),
    ],
    ids=["null-deletes", "lists-replace"],
)
def test_merge_patch(patch: dict[str, Any], expected: Any) -> None:
    result = merge_patch(POD, patch)
    if expected is not None:
        assert result["metadata"]["labels"] == {"b": "2", "c": "3"}
    else:
        assert result["spec"]["tolerations"] == [{"key": "u"}]
        assert result["spec"]["containers"] == POD["spec"]["containers"]


@pytest.mark.parametrize(
    ("patch", "check"),
    [
        (
            {"spec": {"containers": [{"name": "app", "image": "v2"}]}},
            lambda r: [c["image"] for c in r["spec"]["containers"]] == ["v2", "s1"],
        ),
        (
            {"spec": {"containers": [{"name": "new", "image": "n"}]}},
            lambda r: [c["name"] for c in r["spec"]["containers"]] == ["app", "side", "new"],
        ),
        (
            {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}},
            lambda r: [c["name"] for c in r["spec"]["containers"]] == ["app"],
        ),
        (
            {"spec": {"containers": [{"name": "app", "env": [{"name": "F", "value": "2"}]}]}},
            lambda r: [e["name"] for e in r["spec"]["containers"][0]["env"]] == ["E", "F"],
        ),
        (
            {"spec": {"tolerations": [{"key": "u"}]}},
            lambda r: r["spec"]["tolerations"] == [{"key": "u"}],
        ),
        ({"metadata": {"finalizers": ["y"]}}, lambda r: r["metadata"]["finalizers"] == ["x", "y"]),
        (
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}},
            lambda r: r["metadata"]["finalizers"] == [],
        ),
        (
            {"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "app"}]}},
            lambda r: len(r["spec"]["containers"]) == 2,
        ),
        (
            {"metadata": {"labels": {"$patch": "replace", "z": "9"}}},
            lambda r: r["metadata"]["labels"] == {"z": "9"},
        ),
        (
            {"spec": {"$retainKeys": ["containers"], "containers": []}},
            lambda r: "tolerations" not in r["spec"],
        ),
    ],
    ids=[
        "merge-by-name",
        "append-new",
        "patch-delete",
        "nested-env",
        "no-key-replaces",
        "set-list-union",
        "delete-primitive",
        "element-order-ignored",
        "replace-map",
        "retain-keys",
    ],
)
def test_strategic_merge(patch: dict[str, Any], check: Any) -> None:
    assert check(strategic_merge(POD, patch))
    assert POD["spec"]["containers"][0]["image"] == "v1"  # the target is never changed


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        (
            [{"op": "add", "path": "/metadata/labels/c", "value": "3"}],
            {"a": "1", "b": "2", "c": "3"},
        ),
        ([{"op": "remove", "path": "/metadata/labels/a"}], {"b": "2"}),
        ([{"op": "replace", "path": "/metadata/labels/a", "value": "9"}], {"a": "9", "b": "2"}),
        (
            [{"op": "move", "from": "/metadata/labels/a", "path": "/metadata/labels/z"}],
            {"b": "2", "z": "1"},
        ),
        (
            [{"op": "copy", "from": "/metadata/labels/a", "path": "/metadata/labels/z"}],
            {"a": "1", "b": "2", "z": "1"},
        ),
        ([{"op": "test", "path": "/metadata/labels/a", "value": "1"}], {"a": "1", "b": "2"}),
    ],
    ids=["add", "remove", "replace", "move", "copy", "test"],
)
def test_json_patch(ops: list[dict[str, Any]], expected: dict[str, str]) -> None:
    assert json_patch(POD, ops)["metadata"]["labels"] == expected


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ({"op": "add"}, 400),
        ([{"op": "frobnicate", "path": "/a"}], 400),
        ([{"op": "remove", "path": "/metadata/nothing"}], 422),
        ([{"op": "test", "path": "/metadata/labels/a", "value": "2"}], 422),
        ([{"op": "add", "path": "/spec/containers/9", "value": {}}], 422),
        ([{"op": "add", "path": "relative", "value": 1}], 400),
    ],
    ids=[
        "not-a-list",
        "unknown-op",
        "missing-path",
        "test-fails",
        "index-out-of-range",
        "bad-pointer",
    ],
)
def test_json_patch_errors(ops: Any, code: int) -> None:
    with pytest.raises(PatchError) as err:
        json_patch(POD, ops)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("", {"a": "1"}, True),
        ("a=1", {"a": "1"}, True),
        ("a==1,b!=2", {"a": "1", "b": "3"}, True),
        ("a!=1", {}, True),
        ("a in (1, 2),c", {"a": "2", "c": ""}, True),
        ("a notin (1,2)", {"a": "2"}, False),
        ("!a", {"a": "x"}, False),
        ("app.kubernetes.io/name=web", {"app.kubernetes.io/name": "web"}, True),
    ],
    ids=[
        "empty",
        "equals",
        "double-equals-and-not",
        "not-equals-missing",
        "in-and-exists",
        "notin",
        "does-not-exist",
        "prefixed-key",
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert parse_label_selector(selector).matches(labels) is matches


@pytest.mark.parametrize(
    "selector",
    ["a in 1", "a=(", "=x", "a in (b", "a,,b", "a=b c"],
    ids=["in-without-parens", "bad-value", "no-key", "unclosed", "empty-term", "space-in-value"],
)
def test_label_selector_errors_are_400(selector: str) -> None:
    with pytest.raises(StatusError) as err:
        parse_label_selector(selector)
    assert err.value.code == 400


@pytest.mark.parametrize(
    ("selector", "obj", "matches"),
    [
        ("spec.nodeName=", {"spec": {}}, True),
        (
            "spec.nodeName=n1,status.phase!=Failed",
            {"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}},
            True,
        ),
        ("metadata.name==x", {"metadata": {"name": "y"}}, False),
        ("spec.unschedulable=true", {"spec": {"unschedulable": True}}, True),
    ],
    ids=["unset-is-empty", "and", "double-equals", "boolean"],
)
def test_field_selector(selector: str, obj: dict[str, Any], matches: bool) -> None:
    assert parse_field_selector(selector).matches(obj) is matches
