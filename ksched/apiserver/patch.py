"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch.

Strategic merge follows ``k8s.io/apimachinery/pkg/util/strategicpatch`` for
the common fields: lists named in ``MERGE_KEYS`` merge item by item on their
key (containers by ``name``, conditions by ``type``, ...), other lists are
replaced; ``$patch: delete|replace``, ``$retainKeys`` and
``$deleteFromPrimitiveList/`` directives are honoured and
``$setElementOrder/`` (ordering only) is accepted. Every malformed patch
raises ``PatchError`` (a 400/422 for the client), never a crash.
"""

from __future__ import annotations

import copy
from typing import Any, Final

__all__ = [
    "MERGE_KEYS",
    "PatchError",
    "apply_patch",
    "json_patch",
    "merge_patch",
    "strategic_merge",
]

MERGE_KEYS: Final[dict[str, str]] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "env": "name",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "addresses": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
    "readinessGates": "conditionType",
    "schedulingGates": "name",
    "resourceClaims": "name",
}
"""Field name -> merge key of the lists strategic merge patch merges item by item."""

# Lists of scalars merged as sets (patchStrategy "merge" on a primitive list).
_SET_LISTS: Final = frozenset({"finalizers", "podCIDRs"})

_DIRECTIVE: Final = "$patch"
_RETAIN: Final = "$retainKeys"
_DELETE_PRIMITIVE: Final = "$deleteFromPrimitiveList/"
_ORDER: Final = "$setElementOrder/"


class PatchError(ValueError):
    """An unappliable patch; ``code`` is 400 (malformed) or 422 (test failed, bad path)."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, ``null`` deletes, anything else replaces.

    The result holds the patch's values, not copies (``target`` is not
    changed): a patch is a request's decoded body, applied once, and copying
    each value cost more than the rest of a status PATCH.
    """
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _merge_list(name: str, original: list[Any], patch: list[Any]) -> list[Any]:
    key = MERGE_KEYS.get(name)
    if name in _SET_LISTS:
        merged = list(original)
        merged.extend(v for v in patch if v not in merged)
        return merged
    if key is None or not all(isinstance(p, dict) for p in patch):
        if any(isinstance(p, dict) and _DIRECTIVE in p for p in patch):
            raise PatchError(f"{name}: $patch directives need a list with a merge key")
        return patch  # the patch's own, as merge_patch
    if any(isinstance(p, dict) and p.get(_DIRECTIVE) == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if p.get(_DIRECTIVE) != "replace"]
    merged = list(original)
    for item in patch:
        if key not in item:
            raise PatchError(f"{name}: every item of the patch needs its merge key {key!r}")
        at = next(
            (i for i, o in enumerate(merged) if isinstance(o, dict) and o.get(key) == item[key]),
            None,
        )
        if item.get(_DIRECTIVE) == "delete":
            if at is not None:
                del merged[at]
            continue
        if at is None:
            merged.append(strategic_merge({}, item))
        else:
            merged[at] = strategic_merge(merged[at], item)
    return merged


def strategic_merge(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch (see the module docstring for what is covered)."""
    if not isinstance(patch, dict):
        raise PatchError(f"strategic merge patch must be an object, got {type(patch).__name__}")
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _DIRECTIVE}
    if directive is not None and directive != "merge":
        raise PatchError(f"unknown $patch directive {directive!r}")
    result = dict(target) if isinstance(target, dict) else {}
    retain = patch.get(_RETAIN)
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN) or key.startswith(_ORDER):
            continue
        if key.startswith(_DELETE_PRIMITIVE):
            field = key.removeprefix(_DELETE_PRIMITIVE)
            if not isinstance(value, list):
                raise PatchError(f"{key}: must be a list")
            current = result.get(field)
            if isinstance(current, list):
                result[field] = [v for v in current if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        elif isinstance(value, list):
            result[key] = _merge_list(key, [], value)
        else:
            result[key] = value
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError("$retainKeys must be a list of field names")
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise PatchError(f"invalid JSON pointer {path!r}")
    if not path:
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, *, adding: bool) -> int:
    if adding and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r}", 422)
    i = int(token)
    if i > len(container) or (not adding and i == len(container)):
        raise PatchError(f"array index {i} out of range", 422)
    return i


def _parent(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict):
            if token not in node:
                raise PatchError(f"path /{'/'.join(tokens)}: {token!r} does not exist", 422)
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, adding=False)]
        else:
            raise PatchError(f"path /{'/'.join(tokens)} goes through a scalar", 422)
    return node


def _get(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        return doc
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path /{'/'.join(tokens)} does not exist", 422)
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, adding=False)]
    raise PatchError(f"path /{'/'.join(tokens)} goes through a scalar", 422)


def _remove(doc: Any, tokens: list[str]) -> Any:
    if not tokens:
        raise PatchError("cannot remove the whole document", 422)
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path /{'/'.join(tokens)} does not exist", 422)
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, adding=False))
    raise PatchError(f"path /{'/'.join(tokens)} goes through a scalar", 422)


def _add(doc: Any, tokens: list[str], value: Any) -> Any:
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, adding=True), value)
    else:
        raise PatchError(f"path /{'/'.join(tokens)} goes through a scalar", 422)
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    """RFC 6902 operations applied in order to a copy of ``target``."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for n, op in enumerate(ops):
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise PatchError(f"operation {n}: must be an object with a string 'op'")
        kind = op["op"]
        tokens = _pointer(op.get("path"))
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"operation {n} ({kind}): 'value' is required")
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, tokens)
        elif kind == "replace":
            _get(doc, tokens)
            if tokens:
                _remove(doc, tokens)
            doc = _add(doc, tokens, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from"))
            if kind == "move" and tokens[: len(source)] == source and tokens != source:
                raise PatchError(f"operation {n}: cannot move a value into itself", 422)
            value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, tokens, value)
        elif kind == "test":
            if _get(doc, tokens) != op["value"]:
                raise PatchError(f"operation {n}: test failed at {op.get('path')}", 422)
        else:
            raise PatchError(f"operation {n}: unknown op {kind!r}")
    return doc


PATCH_TYPES: Final[dict[str, str]] = {
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
}


def apply_patch(kind: str, target: dict[str, Any], patch: Any) -> Any:
    """Apply a patch of ``kind`` ("merge", "strategic", "json") to ``target``."""
    if kind == "json":
        return json_patch(target, patch)
    if not isinstance(patch, dict):
        raise PatchError(f"a {kind} patch must be a JSON object, got {type(patch).__name__}")
    if kind == "merge":
        return merge_patch(target, patch)
    return strategic_merge(target, patch)
