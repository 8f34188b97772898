"""The OpenAPI v3 documents: served kinds with their field tree and strategic-merge metadata."""

from __future__ import annotations

import httpx
import orjson

from ksched.apiserver import ApiServerProcess
from ksched.apiserver.discovery import openapi_v3_document


def _schemas(group: str, version: str) -> dict[str, dict[str, object]]:
    doc = openapi_v3_document(group, version)
    assert doc is not None
    schemas: dict[str, dict[str, object]] = orjson.loads(doc)["components"]["schemas"]
    return schemas


def test_pod_schema_carries_fields_refs_and_patch_metadata() -> None:
    schemas = _schemas("", "v1")
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "version": "v1", "kind": "Pod"}]
    spec = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert isinstance(spec, dict)
    containers = spec["containers"]
    assert containers["type"] == "array"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["items"] == {
        "allOf": [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}]
    }
    # Every reference resolves inside the document, as kubectl needs.
    text = orjson.dumps(schemas).decode()
    for ref in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert ref in schemas, ref
    # Types with their own JSON form, and an inlined embedded struct.
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"] == {"type": "string"}
    volume = schemas["io.k8s.api.core.v1.Volume"]["properties"]
    assert isinstance(volume, dict) and "emptyDir" in volume and "volumeSource" not in volume


def test_the_index_points_at_each_group_version(apiserver: ApiServerProcess) -> None:
    headers = {"Authorization": f"Bearer {apiserver.token}"}
    with httpx.Client(base_url=apiserver.url, headers=headers, timeout=15) as http:
        index = http.get("/openapi/v3").json()["paths"]
        apps = http.get("/" + index["apis/apps/v1"]["serverRelativeURL"].lstrip("/")).json()
    assert "io.k8s.api.apps.v1.Deployment" in apps["components"]["schemas"]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in apps["components"]["schemas"]
