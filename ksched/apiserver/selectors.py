"""Label and field selectors as the API takes them in ``?labelSelector=`` and ``?fieldSelector=``.

The grammar is upstream's (``k8s.io/apimachinery/pkg/labels/selector.go``):
``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``,
joined by commas. Field selectors take only the three equality forms; a field
path is looked up in the object (``spec.nodeName``, ``status.phase``,
``involvedObject.name``), a missing field reading as "".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ksched.apiserver.errors import bad_request

__all__ = [
    "FieldSelector",
    "LabelSelector",
    "field_reader",
    "match_label_selector_object",
    "parse_field_selector",
    "parse_label_selector",
    "selector_matcher",
]

# Label keys: an optional DNS-subdomain prefix and a name of up to 63 characters.
_KEY: Final = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_VALUE: Final = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_TOKEN: Final = re.compile(r"\s*(!=|==|=|\(|\)|,|!|[^\s!=(),]+)")


@dataclass(frozen=True, slots=True)
class _Requirement:
    key: str
    op: str  # "in", "notin", "exists", "!"
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "in":
            return labels.get(self.key) in self.values
        if self.op == "notin":
            return labels.get(self.key) not in self.values
        if self.op == "exists":
            return self.key in labels
        return self.key not in labels


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A parsed label selector; the empty selector matches everything."""

    requirements: tuple[_Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            break
        out.append(m.group(1))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _check_key(key: str, what: str) -> None:
    if not _KEY.match(key) or len(key) > 317:
        raise bad_request(f"unable to parse requirement: invalid {what} key {key!r}")


def _check_value(value: str) -> None:
    if not _VALUE.match(value):
        raise bad_request(f"unable to parse requirement: invalid label value {value!r}")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse ``?labelSelector=``; raise a 400 ``StatusError`` naming the bad part."""
    toks = _tokens(text)
    reqs: list[_Requirement] = []
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(toks):
            raise bad_request(f"unable to parse label selector {text!r}: unexpected end")
        tok = toks[i]
        i += 1
        return tok

    while i < len(toks):
        tok = take()
        if tok == "!":
            key = take()
            _check_key(key, "label")
            reqs.append(_Requirement(key, "!", frozenset()))
        else:
            key = tok
            _check_key(key, "label")
            nxt = toks[i] if i < len(toks) else ","
            if nxt == ",":
                reqs.append(_Requirement(key, "exists", frozenset()))
            elif nxt in ("=", "==", "!="):
                i += 1
                value = take() if i < len(toks) and toks[i] != "," else ""
                _check_value(value)
                op = "notin" if nxt == "!=" else "in"
                reqs.append(_Requirement(key, op, frozenset({value})))
            elif nxt in ("in", "notin"):
                i += 1
                if take() != "(":
                    raise bad_request(f"unable to parse label selector {text!r}: expected '('")
                values: set[str] = set()
                while True:
                    tok = take()
                    if tok == ")":
                        break
                    if tok == ",":
                        continue
                    _check_value(tok)
                    values.add(tok)
                reqs.append(_Requirement(key, nxt, frozenset(values)))
            else:
                raise bad_request(f"unable to parse label selector {text!r}: unexpected {nxt!r}")
        if i < len(toks):
            if toks[i] != ",":
                raise bad_request(f"unable to parse label selector {text!r}: expected ','")
            i += 1
    return LabelSelector(tuple(reqs))


def match_label_selector_object(selector: Any, labels: Mapping[str, str]) -> bool:
    """Whether a ``metav1.LabelSelector`` dict (already validated) matches ``labels``.

    ``None`` matches nothing, ``{}`` everything, as upstream.
    """
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def field_reader(path: str, default: str = "") -> Callable[[Mapping[str, Any]], str]:
    """Reads a dotted field path as a field selector compares it: ``default`` when missing,
    a bool as "true"/"false" (upstream's selectable-field sets render them so)."""
    parts = tuple(path.split("."))

    def read(obj: Mapping[str, Any]) -> str:
        node: Any = obj
        for part in parts:
            if not isinstance(node, Mapping):
                return default
            node = node.get(part)
        if node is None:
            return default
        if isinstance(node, bool):
            return "true" if node else "false"
        return str(node)

    return read


# A list or watch matches every object against the same few paths: one reader per path.
_reader: Final = functools.lru_cache(maxsize=256)(field_reader)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A parsed field selector: ``(path, equal?, value)`` terms, all of which must hold."""

    terms: tuple[tuple[str, bool, str], ...]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((_reader(p)(obj) == v) == eq for p, eq, v in self.terms)

    def value_of(self, path: str) -> str | None:
        """The value an equality term pins ``path`` to, for index lookups."""
        for p, eq, v in self.terms:
            if p == path and eq:
                return v
        return None


_FIELD_TERM: Final = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(==|!=|=)\s*(.*?)\s*$")


def parse_field_selector(text: str) -> FieldSelector:
    terms: list[tuple[str, bool, str]] = []
    for part in text.split(","):
        if not part.strip():
            continue
        m = _FIELD_TERM.match(part)
        if m is None:
            raise bad_request(f"invalid field selector {text!r}: {part!r} is not field=value")
        terms.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return FieldSelector(tuple(terms))


def selector_matcher(
    label: str | None,
    field_text: str | None,
    field_labels: Mapping[str, Callable[[Mapping[str, Any]], str]],
) -> Callable[[Mapping[str, Any]], bool] | None:
    """One predicate for both ``?labelSelector`` and ``?fieldSelector``; ``None`` if neither.

    ``field_labels``: the labels the resource can be selected by and how each reads an
    object; any other label is a 400, as upstream's field label conversion.
    """
    labels = parse_label_selector(label) if label else None
    fields = parse_field_selector(field_text) if field_text else None
    if labels is None and fields is None:
        return None
    terms = []
    for name, equal, value in fields.terms if fields is not None else ():
        getter = field_labels.get(name)
        if getter is None:
            raise bad_request(f"field label not supported: {name}")
        terms.append((getter, equal, value))

    def matches(obj: Mapping[str, Any]) -> bool:
        if labels is not None:
            meta = obj.get("metadata") or {}
            if not labels.matches(meta.get("labels") or {}):
                return False
        return all((get(obj) == value) == equal for get, equal, value in terms)

    return matches
