"""Thousands of malformed requests against a live server: no 5xx, every rejection a ``Status``.

Hypothesis builds requests from the server's own vocabulary (real group
versions, resources, subresources, query parameters, patch types) mixed with
junk, and bodies that are random bytes, random JSON, or valid objects with one
field replaced by a random value. The counts per status code are printed.
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksched.apiserver import RESOURCES, ApiServerProcess
from ksched.apiserver.protobuf import decode_object
from ksched.testing.json_paths import json_paths

# KSCHED_FUZZ_EXAMPLES: more requests for a longer hunt than the default run.
EXAMPLES = int(os.environ.get("KSCHED_FUZZ_EXAMPLES", "2000"))
NOW = "2026-11-29T05:00:00.000000Z"
PREFIXES = [*sorted({r.base_path() for r in RESOURCES}), "/apis/nope/v9", "/api/v2"]
PLURALS = sorted({r.plural for r in RESOURCES})
SUBRESOURCES = ["status", "binding", "eviction", "scale", "log"]
PARAMS = [
    "labelSelector",
    "fieldSelector",
    "limit",
    "continue",
    "resourceVersion",
    "gracePeriodSeconds",
    "propagationPolicy",
    "dryRun",
    "fieldValidation",
    "allowWatchBookmarks",
]
PATCH_TYPES = [
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
]
CONTENT_TYPES = [
    "application/json",
    "application/yaml",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "application/vnd.kubernetes.protobuf",
    "text/plain",
]
VALID = {
    "pods": {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "fz", "labels": {"a": "b"}},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2"}},
                    "ports": [{"containerPort": 80}],
                }
            ],
            "tolerations": [{"key": "k", "operator": "Exists"}],
        },
    },
    "deployments": {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "fz"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        },
    },
    "poddisruptionbudgets": {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "fz"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "b"}}},
    },
    "nodes": {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "fz"},
        "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
        "status": {"allocatable": {"cpu": "4"}},
    },
    "bindings": {"metadata": {"name": "fz"}, "target": {"kind": "Node", "name": "n1"}},
    "replicasets": {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "fz"},
        "spec": {
            "replicas": 1,
            "selector": {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    },
    "jobs": {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "fz"},
        "spec": {
            "completions": 2,
            "parallelism": 1,
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
            },
        },
    },
    "namespaces": {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "fz", "labels": {"a": "b"}},
        "spec": {"finalizers": ["kubernetes"]},
    },
    "priorityclasses": {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "fz"},
        "value": 100,
        "globalDefault": False,
        "preemptionPolicy": "Never",
        "description": "d",
    },
    "leases": {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "fz"},
        "spec": {"holderIdentity": "me", "leaseDurationSeconds": 40, "renewTime": NOW},
    },
    "events": {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "fz"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "fz"},
        "reason": "R",
        "message": "m",
        "type": "Normal",
        "series": {"count": 2, "lastObservedTime": NOW},
        "eventTime": NOW,
        "reportingComponent": "c",
        "reportingInstance": "i",
        "action": "A",
    },
    "eviction": {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "fz"}},
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
segment = st.text(min_size=0, max_size=12)


@st.composite
def mutated_object(draw: st.DrawFn, kind: str) -> Any:
    obj = copy.deepcopy(VALID[kind if kind in VALID else draw(st.sampled_from(sorted(VALID)))])
    paths = [p for p in json_paths(obj) if p]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        node = obj
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = draw(json_values)
        except (KeyError, IndexError, TypeError):
            continue
    return obj


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], str, bytes]:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
    res = draw(st.sampled_from(RESOURCES))
    junk = draw(st.integers(0, 9)) == 0  # one request in ten gets a random path segment
    parts = [res.base_path() if not junk else draw(st.sampled_from(PREFIXES))]
    if res.namespaced:
        parts += ["namespaces", draw(st.sampled_from(["default", "fuzz"]))]
    parts.append(res.plural)
    # Creates go to collections, everything else mostly to objects.
    if draw(st.integers(0, 3)) >= (3 if method == "POST" else 1):
        parts.append(draw(st.sampled_from(["fz", "n1"])))
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from([*res.subresources, "log"])))
    if junk:
        parts[draw(st.integers(1, len(parts) - 1))] = draw(segment)
    path = "/".join(quote(p, safe="") if i else p for i, p in enumerate(parts))
    query = draw(st.dictionaries(st.sampled_from(PARAMS), st.text(max_size=16), max_size=3))
    # Mostly the type the method takes, so that bodies get past content negotiation.
    usual = PATCH_TYPES if method == "PATCH" else ["application/json"]
    content_type = draw(st.sampled_from([*usual * 3, *CONTENT_TYPES]))
    kind = draw(st.sampled_from(["none", "bytes", "json", "object", "object"]))
    if kind == "bytes":
        body = draw(st.binary(max_size=64))
    elif kind == "json":
        body = httpx.Request("POST", "http://x", json=draw(json_values)).content
    elif kind == "object":
        body = httpx.Request(
            "POST",
            "http://x",
            json=draw(mutated_object(parts[-1] if parts[-1] in VALID else res.plural)),
        ).content
    else:
        body = b""
    return method, path, query, content_type, body


@pytest.fixture(scope="module")
def http(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {apiserver.token}"}
    with httpx.Client(base_url=apiserver.url, headers=headers, timeout=10) as client:
        _baseline(client)
        yield client


def _baseline(client: httpx.Client) -> None:
    """(Re)create the objects fuzzed requests address ("fz", "n1"), so they get past 404."""
    for ns in ("default", "fuzz"):  # a fuzzed DELETE may have removed either
        client.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
    client.post("/api/v1/nodes", json=VALID["nodes"] | {"metadata": {"name": "n1"}})
    for res in RESOURCES:
        body = VALID.get(res.plural)
        if body is None or res.plural == "bindings" or "kind" not in body:
            continue
        if res.api_version != body.get("apiVersion"):
            continue  # events.k8s.io: the core shape would only be refused
        for ns in ("default", "fuzz") if res.namespaced else (None,):
            where = f"/namespaces/{ns}" if ns else ""
            client.post(f"{res.base_path()}{where}/{res.plural}", json=body)


def test_malformed_requests_get_status_errors_never_5xx(http: httpx.Client) -> None:
    codes: Counter[int] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(requests())
    def one(request: tuple[str, str, dict[str, str], str, bytes]) -> None:
        method, path, query, content_type, body = request
        response = http.request(
            method, path, params=query, content=body, headers={"Content-Type": content_type}
        )
        codes[response.status_code] += 1
        if sum(codes.values()) % 25 == 0:
            _baseline(http)
        assert response.status_code < 500, (request, response.text)
        if response.status_code >= 400:
            status = response.json()
            assert status["kind"] == "Status", (request, status)
            assert status["code"] == response.status_code, (request, status)
            assert status["status"] == "Failure" and status["message"], (request, status)

    one()
    total = sum(codes.values())
    print(f"fuzz: {total} requests, by status code: {dict(sorted(codes.items()))}")
    assert total >= EXAMPLES
    assert http.get("/readyz").status_code == 200


# Their own namespace and node: the fuzz run above may delete "default" or node "fz".
COLLECTIONS = {
    "pods": "/api/v1/namespaces/nulls/pods",
    "deployments": "/apis/apps/v1/namespaces/nulls/deployments",
    "poddisruptionbudgets": "/apis/policy/v1/namespaces/nulls/poddisruptionbudgets",
    "nodes": "/api/v1/nodes",
    "bindings": "/api/v1/namespaces/nulls/pods/fz/binding",
}
EXISTING = {"nodes": "nulls-fz"}


@pytest.fixture(scope="module")
def nulls(http: httpx.Client) -> httpx.Client:
    """The objects the JSON patches address, created once."""
    http.post("/api/v1/namespaces", json={"metadata": {"name": "nulls"}})
    for kind in ("pods", "deployments", "poddisruptionbudgets", "nodes"):
        name = EXISTING.get(kind, "fz")
        obj = copy.deepcopy(VALID[kind])
        obj["metadata"]["name"] = name
        assert http.post(COLLECTIONS[kind], json=obj).status_code == 201, kind
    return http


def _assert_status(response: httpx.Response, what: object) -> None:
    assert response.status_code < 500, (what, response.text)
    if response.status_code >= 400:
        status = response.json()
        assert status["kind"] == "Status" and status["code"] == response.status_code, what


@pytest.mark.parametrize("kind", sorted(COLLECTIONS))
def test_a_null_in_any_field_reads_as_absent(nulls: httpx.Client, kind: str) -> None:
    """Go decodes ``null`` as the zero value: creates and JSON patches with a null never 5xx."""
    paths = [p for p in json_paths(VALID[kind]) if p]
    for n, path in enumerate(paths):
        obj = copy.deepcopy(VALID[kind])
        if kind != "bindings":
            obj["metadata"]["name"] = f"null-{n}"
        node = obj
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = None
        _assert_status(nulls.post(COLLECTIONS[kind], json=obj), (kind, path))
        if kind == "bindings":
            continue
        pointer = "/" + "/".join(str(p) for p in path)
        patch = [{"op": "replace", "path": pointer, "value": None}]
        response = nulls.patch(
            f"{COLLECTIONS[kind]}/{EXISTING.get(kind, 'fz')}",
            content=orjson.dumps(patch),
            headers={"Content-Type": "application/json-patch+json"},
        )
        _assert_status(response, (kind, "json-patch", path))


@pytest.mark.parametrize("kind", ["merge-patch", "strategic-merge-patch"])
def test_a_null_inside_a_merge_patch_list_is_not_stored(nulls: httpx.Client, kind: str) -> None:
    """A merge patch's nulls delete; one inside a list item it carries is dropped as a field."""
    patch = {
        "metadata": {"labels": {"gone": None, "kept": "1"}},
        "spec": {"tolerations": [{"key": "t", "operator": "Exists", "value": None}]},
    }
    response = nulls.patch(
        f"{COLLECTIONS['pods']}/fz",
        content=orjson.dumps(patch),
        headers={"Content-Type": f"application/{kind}+json"},
    )
    assert response.status_code == 200, response.text
    stored = nulls.get(f"{COLLECTIONS['pods']}/fz").json()
    assert stored["metadata"]["labels"]["kept"] == "1"
    assert "gone" not in stored["metadata"]["labels"]
    assert {"key": "t", "operator": "Exists"} in stored["spec"]["tolerations"]


def test_a_null_strategy_gets_the_default_one(nulls: httpx.Client) -> None:
    obj = copy.deepcopy(VALID["deployments"])
    obj["metadata"]["name"] = "null-strategy"
    obj["spec"]["strategy"] = None
    response = nulls.post(COLLECTIONS["deployments"], json=obj)
    assert response.status_code == 201, response.text
    strategy = response.json()["spec"]["strategy"]
    assert strategy == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("strategy", {"rollingUpdate": []}), ("strategy", "Recreate"), ("revisionHistoryLimit", "x")],
)
def test_a_mistyped_deployment_field_is_a_422_naming_it(
    nulls: httpx.Client, field: str, value: object
) -> None:
    obj = copy.deepcopy(VALID["deployments"])
    obj["metadata"]["name"] = "mistyped"
    obj["spec"][field] = value
    response = nulls.post(COLLECTIONS["deployments"], json=obj)
    assert response.status_code == 422, response.text
    assert f"spec.{field}" in response.json()["message"]


PROTOBUF_PREFIX = b"k8s\x00"


def _varint(n: int) -> bytes:
    out = b""
    while n > 0x7F:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def _delimited(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _envelope(api_version: bytes, kind: bytes, raw: bytes) -> bytes:
    """runtime.Unknown{typeMeta{apiVersion, kind}, raw}, as client-go frames a body."""
    type_meta = _delimited(1, api_version) + _delimited(2, kind)
    return PROTOBUF_PREFIX + _delimited(1, type_meta) + _delimited(2, raw)


def test_a_protobuf_envelope_decodes() -> None:
    # Pod{metadata{name: "ab"}}: the helper frames what the server reads.
    pod = _delimited(1, _delimited(1, b"ab"))
    assert decode_object(_envelope(b"v1", b"Pod", pod)) == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ab"},
    }


def test_an_out_of_range_time_is_a_400(nulls: httpx.Client) -> None:
    # Pod{metadata{creationTimestamp{seconds: 2**62}}}: beyond any calendar.
    time = bytes([1 << 3]) + _varint(1 << 62)
    body = _envelope(b"v1", b"Pod", _delimited(1, _delimited(8, time)))
    response = nulls.post(
        COLLECTIONS["pods"],
        content=body,
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    assert response.status_code == 400, response.text
    assert "out of range" in response.json()["message"]


def _field(number: int, wire: int, value: int | bytes) -> bytes:
    key = _varint(number << 3 | wire)
    if wire == 0:
        assert isinstance(value, int)
        return key + _varint(value)
    assert isinstance(value, bytes)
    return key + (_varint(len(value)) + value if wire == 2 else value)


# Well-formed protobuf of random fields, nested: it reaches deep into the schema's messages
# (a pod's metadata's creation time) where random bytes rarely get.
_scalar_field = st.one_of(
    st.builds(_field, st.integers(1, 24), st.just(0), st.integers(0, 2**64 - 1)),
    st.builds(_field, st.integers(1, 24), st.just(2), st.binary(max_size=12)),
    st.builds(_field, st.integers(1, 24), st.just(2), st.text(max_size=12).map(str.encode)),
    st.builds(_field, st.integers(1, 24), st.just(1), st.binary(min_size=8, max_size=8)),
    st.builds(_field, st.integers(1, 24), st.just(5), st.binary(min_size=4, max_size=4)),
)
protobuf_messages = st.recursive(
    _scalar_field,
    lambda inner: st.builds(
        lambda number, parts: _field(number, 2, b"".join(parts)),
        st.integers(1, 24),
        st.lists(inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=EXAMPLES // 4, deadline=None, database=None)
@given(
    st.sampled_from(["pods", "deployments", "nodes", "bindings"]),
    st.one_of(
        st.binary(max_size=120).map(lambda raw: PROTOBUF_PREFIX + raw),
        # A well-framed envelope of the collection's kind around random object bytes,
        st.binary(max_size=120),
        # or around random well-formed fields.
        st.lists(protobuf_messages, max_size=4).map(b"".join),
    ),
)
def test_malformed_protobuf_bodies_get_a_status_never_5xx(
    nulls: httpx.Client, kind: str, body: bytes
) -> None:
    if not body.startswith(PROTOBUF_PREFIX):
        api_version, kind_name = {
            "pods": (b"v1", b"Pod"),
            "deployments": (b"apps/v1", b"Deployment"),
            "nodes": (b"v1", b"Node"),
            "bindings": (b"v1", b"Binding"),
        }[kind]
        body = _envelope(api_version, kind_name, body)
    response = nulls.post(
        COLLECTIONS[kind],
        content=body,
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
    )
    _assert_status(response, (kind, body))
