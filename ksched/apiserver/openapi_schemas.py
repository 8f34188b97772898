"""OpenAPI v3 component schemas of the served kinds, built from the pinned API's message schema.

``kubectl explain`` walks these (field names, types, nesting), and
``kubectl apply`` reads their strategic-merge metadata
(``x-kubernetes-patch-strategy``, ``x-kubernetes-patch-merge-key``). They
come from ``protobuf_schema.json`` (the release's ``generated.proto`` files
and Go struct tags), named as upstream names them
(``io.k8s.api.core.v1.Pod``); the types with a custom JSON form get upstream's
JSON schema (a Quantity is a string, an IntOrString either). Field
descriptions are not carried.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from ksched.apiserver.protobuf import api_schema

__all__ = ["component_schemas", "schema_name"]

_META: Final = "k8s.io.apimachinery.pkg.apis.meta.v1."
_SCALARS: Final = {
    "string": {"type": "string"},
    "bytes": {"type": "string", "format": "byte"},
    "bool": {"type": "boolean"},
    "int32": {"type": "integer", "format": "int32"},
    "int64": {"type": "integer", "format": "int64"},
    "uint32": {"type": "integer", "format": "int32"},
    "uint64": {"type": "integer", "format": "int64"},
    "double": {"type": "number", "format": "double"},
    "float": {"type": "number", "format": "float"},
}
_SPECIAL: Final[dict[str, dict[str, Any]]] = {
    "k8s.io.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
    _META + "Time": {"type": "string", "format": "date-time"},
    _META + "MicroTime": {"type": "string", "format": "date-time"},
    _META + "Duration": {"type": "string"},
    _META + "FieldsV1": {"type": "object"},
    "k8s.io.apimachinery.pkg.runtime.RawExtension": {"type": "object"},
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": {
        "type": "string",
        "format": "int-or-string",
        "x-kubernetes-int-or-string": True,
    },
}


def schema_name(message: str) -> str:
    """``k8s.io.api.core.v1.Pod`` -> ``io.k8s.api.core.v1.Pod``, upstream's definition name."""
    return "io.k8s." + message.removeprefix("k8s.io.")


def _type(ftype: str, todo: list[str]) -> dict[str, Any]:
    if ftype in _SCALARS:
        return dict(_SCALARS[ftype])
    todo.append(ftype)
    return {"allOf": [{"$ref": f"#/components/schemas/{schema_name(ftype)}"}]}


def _properties(message: str, todo: list[str]) -> dict[str, Any]:
    """JSON properties of ``message``, an embedded struct's fields written in place."""
    messages = api_schema()["messages"]
    props: dict[str, Any] = {}
    for _, name, ftype, kind, flags, strategy, key in messages[message]:
        if "i" in flags:
            props.update(_properties(ftype, todo))
            continue
        if kind == "r":
            prop: dict[str, Any] = {"type": "array", "items": _type(ftype, todo)}
        elif kind == "m":
            prop = {"type": "object", "additionalProperties": _type(ftype, todo)}
        else:
            prop = _type(ftype, todo)
        if strategy:
            prop["x-kubernetes-patch-strategy"] = strategy
        if key:
            prop["x-kubernetes-patch-merge-key"] = key
        props[name] = prop
    return props


def component_schemas(kinds: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """Schemas of the ``(group, version, kind)`` kinds and of every type they reach."""
    data = api_schema()
    out: dict[str, Any] = {}
    todo: list[str] = []
    for group, version, kind in kinds:
        api_version = f"{group}/{version}" if group else version
        message = data["kinds"][f"{api_version}/{kind}"]
        props = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}
        props |= _properties(message, todo)
        out[schema_name(message)] = {
            "type": "object",
            "properties": props,
            "x-kubernetes-group-version-kind": [{"group": group, "version": version, "kind": kind}],
        }
    while todo:
        message = todo.pop()
        name = schema_name(message)
        if name in out:
            continue
        special = _SPECIAL.get(message)
        out[name] = (
            dict(special)
            if special
            else {
                "type": "object",
                "properties": _properties(message, todo),
            }
        )
    return dict(sorted(out.items()))
