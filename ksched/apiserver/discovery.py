"""Discovery documents (``/api``, ``/apis``, ``/apis/<g>/<v>``, ``/version``) and OpenAPI v3.

All generated from the resource table. The OpenAPI documents are small: one
schema per kind (with its group-version-kind, so clients can map kinds to
schemas) and the operations with the query parameters clients probe for
(``fieldValidation``, ``dryRun``), not upstream's full field schemas.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any, Final

import orjson

from ksched import __version__
from ksched.apiserver.openapi_schemas import component_schemas
from ksched.apiserver.resources import RESOURCES, SUBRESOURCES, Resource, group_versions

__all__ = [
    "KUBERNETES_VERSION",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "openapi_v3_document",
    "openapi_v3_index",
    "version_info",
]

KUBERNETES_VERSION: Final = (1, 37)
"""The Kubernetes API release whose semantics this server follows (what ``/version`` says)."""


def version_info() -> dict[str, str]:
    major, minor = KUBERNETES_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.0+ksched-{__version__}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "ksched",
        "platform": "linux/amd64",
    }


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list() -> dict[str, Any]:
    groups = [_group(g, vs) for g, vs in group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(name: str) -> dict[str, Any] | None:
    versions = group_versions().get(name)
    if not name or versions is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _entries(r: Resource) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        main["shortNames"] = list(r.short_names)
    if r.categories:
        main["categories"] = list(r.categories)
    out = [main]
    for sub in r.subresources:
        info = SUBRESOURCES[sub]
        entry: dict[str, Any] = {
            "name": f"{r.plural}/{sub}",
            "singularName": "",
            "namespaced": r.namespaced,
            "kind": r.kind if info.kind == "<parent>" else info.kind,
            "verbs": list(info.verbs),
        }
        if sub == "scale":
            entry.update(group="autoscaling", version="v1")
        elif sub == "eviction":
            entry.update(group="policy", version="v1")
        out.append(entry)
    return out


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    served = [r for r in RESOURCES if r.group == group and r.version == version]
    if not served:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": [e for r in served for e in _entries(r)],
    }


def _param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _operation(r: Resource, action: str, params: tuple[str, ...]) -> dict[str, Any]:
    return {
        "operationId": f"{action}{r.kind}",
        "parameters": [_param(p) for p in params],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    }


_WRITE_PARAMS: Final = ("dryRun", "fieldManager", "fieldValidation", "pretty")


@cache
def openapi_v3_document(group: str, version: str) -> bytes | None:
    served = [r for r in RESOURCES if r.group == group and r.version == version]
    if not served:
        return None
    paths: dict[str, Any] = {}
    for r in served:
        base = r.base_path() + ("/namespaces/{namespace}" if r.namespaced else "")
        paths[f"{base}/{r.plural}"] = {
            "get": _operation(r, "list", ("labelSelector", "fieldSelector", "limit", "continue")),
            "post": _operation(r, "post", _WRITE_PARAMS),
        }
        paths[f"{base}/{r.plural}/{{name}}"] = {
            "get": _operation(r, "get", ("pretty",)),
            "put": _operation(r, "put", _WRITE_PARAMS),
            "patch": _operation(r, "patch", (*_WRITE_PARAMS, "force")),
            "delete": _operation(r, "delete", ("dryRun", "gracePeriodSeconds")),
        }
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (ksched)", "version": version_info()["gitVersion"]},
        "paths": paths,
        "components": {"schemas": component_schemas((r.group, r.version, r.kind) for r in served)},
    }
    return orjson.dumps(doc)


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@cache
def openapi_v3_index() -> bytes:
    paths: dict[str, Any] = {}
    for group, versions in group_versions().items():
        for version in versions:
            doc = openapi_v3_document(group, version)
            assert doc is not None
            digest = hashlib.sha512(doc).hexdigest()[:64].upper()
            paths[_gv_path(group, version)] = {
                "serverRelativeURL": f"/openapi/v3/{_gv_path(group, version)}?hash={digest}"
            }
    return orjson.dumps({"paths": paths})
