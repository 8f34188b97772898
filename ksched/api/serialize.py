"""Reading and writing API objects as dicts, JSON and multi-document YAML.

Every failure becomes one ``ObjectError`` that names the source, the document
and the field path, so a bad manifest in a trace of thousands is found at once.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import yaml
from pydantic import ValidationError

from ksched.api.meta import K8sModel, K8sObject, mark_changed
from ksched.api.node import Node
from ksched.api.objects import Binding, Event, Lease, PodDisruptionBudget
from ksched.api.pod import Pod

__all__ = [
    "KINDS",
    "ObjectError",
    "load_object",
    "load_yaml",
    "to_dict",
    "to_json",
    "to_yaml",
]

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

KINDS: Final[dict[tuple[str, str], type[K8sObject]]] = {
    (cls.model_fields["api_version"].default, cls.model_fields["kind"].default): cls
    for cls in (Pod, Node, Binding, Event, Lease, PodDisruptionBudget)
}
"""(apiVersion, kind) -> model, for dispatch."""


class ObjectError(ValueError):
    """An object that could not be read: where it was, and what is wrong with which field.

    ``problems`` holds ``(field path, reason)`` pairs; the path is empty for
    problems with the document as a whole.
    """

    def __init__(
        self, problems: list[tuple[str, str]], source: str = "<object>", document: int | None = None
    ) -> None:
        self.problems = problems
        self.source = source
        self.document = document
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.source if self.document is None else f"{self.source}, document {self.document}"
        lines = [f"{path}: {reason}" if path else reason for path, reason in self.problems]
        if len(lines) == 1:
            return f"{where}: {lines[0]}"
        return f"{where}: {len(lines)} problems\n" + "\n".join(f"  {line}" for line in lines)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            path += " (key)"
        else:
            path += f".{part}" if path else part
    return path


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    return [(_field_path(err["loc"]), err["msg"]) for err in exc.errors(include_url=False)]


def load_object(d: dict[str, Any]) -> K8sObject:
    """The typed object for a dict, chosen by its ``apiVersion`` and ``kind``.

    Raises ``ObjectError`` for a kind this package does not model or an invalid field.
    """
    if not isinstance(d, dict):
        raise ObjectError([("", f"expected a mapping, got {type(d).__name__}")])
    api_version, kind = d.get("apiVersion"), d.get("kind")
    if not (isinstance(api_version, str) and isinstance(kind, str)):
        raise ObjectError([("", "apiVersion and kind must be given, as strings")])
    cls = KINDS.get((api_version, kind))
    if cls is None:
        known = ", ".join(f"{v} {k}" for v, k in KINDS)
        reason = f"unsupported kind {kind!r} with apiVersion {api_version!r} (known: {known})"
        raise ObjectError([("", reason)])
    try:
        return cls.model_validate(d)
    except ValidationError as exc:
        raise ObjectError(_problems(exc)) from None


def _documents(text: str, source: str) -> Iterator[tuple[int, Any]]:
    if text.lstrip().startswith(("{", "[")):
        try:
            yield 0, json.loads(text)
            return
        except json.JSONDecodeError:
            pass  # a YAML flow mapping, perhaps: let the YAML parser judge
    index = 0
    docs = yaml.load_all(text, Loader=_Loader)
    while True:
        try:
            doc = next(docs)
        except StopIteration:
            return
        except yaml.YAMLError as exc:
            raise ObjectError([("", _yaml_reason(exc))], source, index) from None
        yield index, doc
        index += 1


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is None or problem is None:
        return f"invalid YAML: {exc}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _items(doc: Any) -> Iterator[tuple[str, Any]]:
    """The objects in a document: itself, or the items of an array or a list object."""
    if isinstance(doc, list):
        yield from ((f"[{i}]", item) for i, item in enumerate(doc))
        return
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if not (isinstance(kind, str) and kind.endswith("List") and "items" in doc):
        yield "", doc
        return
    item_kind = kind.removesuffix("List")
    for i, item in enumerate(doc["items"] or []):
        if isinstance(item, dict) and item_kind and "kind" not in item:
            # Typed lists (PodList) leave apiVersion and kind out of their items.
            item = {"apiVersion": doc.get("apiVersion"), "kind": item_kind, **item}
        yield f"items[{i}]", item


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects.

    Models create no cycles, but each pod is ~150 tracked containers, and the
    full collections triggered by that growth cost several times the parsing
    itself when a trace holds thousands of pods.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_yaml(text: str, source: str = "<string>") -> list[K8sObject]:
    """Every object in multi-document YAML or JSON; empty documents are skipped.

    An array, a ``kind: List`` or a typed list (``PodList``) yields its items.
    """
    objects: list[K8sObject] = []
    with _collector_paused():
        for index, doc in _documents(text, source):
            if doc is None:
                continue
            for prefix, item in _items(doc):
                try:
                    objects.append(load_object(item))
                except ObjectError as exc:
                    problems = [(_join(prefix, path), reason) for path, reason in exc.problems]
                    raise ObjectError(problems, source, index) from None
    return objects


def _join(prefix: str, path: str) -> str:
    if not prefix or not path:
        return prefix or path
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def to_dict(obj: K8sModel) -> dict[str, Any]:
    """The JSON-ready dict of ``obj``: what was read, plus what was changed since.

    An object read from a dict gives that dict back; a top-level object always
    carries ``apiVersion`` and ``kind``.
    """
    mark_changed(obj)
    return obj.model_dump(mode="json", by_alias=True, exclude_unset=True)


def to_json(obj: K8sModel, *, indent: int | None = None) -> str:
    return json.dumps(to_dict(obj), indent=indent)


def to_yaml(objs: K8sModel | Iterable[K8sModel]) -> str:
    """One YAML document per object, in field order."""
    items = [objs] if isinstance(objs, K8sModel) else list(objs)
    dumped: str = yaml.dump_all(
        [to_dict(o) for o in items], Dumper=_Dumper, sort_keys=False, allow_unicode=True
    )
    return dumped
