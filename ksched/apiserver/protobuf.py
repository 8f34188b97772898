"""Request bodies in ``application/vnd.kubernetes.protobuf``, decoded to the JSON form.

client-go's typed clients (``kubectl create deployment``, ``create job``,
``create namespace``...) send Kubernetes' protobuf encoding: the bytes
``k8s\\x00`` and a ``runtime.Unknown`` whose ``raw`` field holds the object's
message (``apimachinery/pkg/runtime/serializer/protobuf``). The field
numbers and types come from the pinned API's ``generated.proto`` files
(``protobuf_schema.json``, written by ``tools/k8s/proto_schema.py``).

The result is what upstream's JSON encoding of the decoded Go object would
say: the types with a custom JSON form (Quantity, Time, MicroTime, Duration,
IntOrString, FieldsV1, RawExtension) take it, embedded structs are inlined,
and the zero values the Go side always writes for non-pointer ``omitempty``
fields are left out (a pointer's zero, ``replicas: 0``, and an empty
message, ``emptyDir: {}``, stay: they mean something). The schema carries
which fields are which, read from the Go types. Fields the schema does not
know are skipped, as upstream's decoder skips them.
"""

from __future__ import annotations

import base64
import json
import struct
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Final

__all__ = ["PROTOBUF", "ProtobufError", "api_schema", "decode_object"]

PROTOBUF: Final = "application/vnd.kubernetes.protobuf"
_MAGIC: Final = b"k8s\x00"
_META: Final = "k8s.io.apimachinery.pkg.apis.meta.v1."
_VARINTS: Final = frozenset({"int32", "int64", "uint32", "uint64", "bool"})
_SCALARS: Final = _VARINTS | {"string", "bytes", "double", "float"}

# (JSON name, type, "o" | "r" | "m", flags: "i" inlined into its parent, "z" omitted when zero)
Field = tuple[str, str, str, str]


class ProtobufError(ValueError):
    """A body that is not a well-formed Kubernetes protobuf object."""


@cache
def api_schema() -> dict[str, Any]:
    """``protobuf_schema.json``: the envelope, kinds and messages, each field
    ``[number, JSON name, type, o|r|m, flags, patch strategy, patch merge key]``."""
    text = resources.files("ksched.apiserver").joinpath("protobuf_schema.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _schema() -> tuple[str, dict[str, str], dict[str, dict[int, Field]]]:
    data = api_schema()
    messages = {
        name: {int(f[0]): (f[1], f[2], f[3], f[4]) for f in fields}
        for name, fields in data["messages"].items()
    }
    return data["envelope"], data["kinds"], messages


def decode_object(raw: bytes) -> dict[str, Any]:
    """The object a protobuf body carries, as a JSON-shaped dict with its apiVersion and kind."""
    if not raw.startswith(_MAGIC):
        raise ProtobufError("the body does not start with the k8s protobuf prefix")
    envelope, kinds, _ = _schema()
    unknown = _message(envelope, memoryview(raw)[len(_MAGIC) :], 0)
    # Unknown embeds its TypeMeta, so the apiVersion and kind come out inlined.
    api_version, kind = unknown.get("apiVersion", ""), unknown.get("kind", "")
    if unknown.get("contentEncoding"):
        raise ProtobufError(f"unsupported content encoding {unknown['contentEncoding']!r}")
    name = kinds.get(f"{api_version}/{kind}") or (
        kinds["*/DeleteOptions"] if kind == "DeleteOptions" else None
    )
    if name is None:
        raise ProtobufError(
            f"no protobuf decoding for {api_version or '<none>'}/{kind or '<none>'}"
        )
    body = base64.b64decode(unknown.get("raw", ""))
    obj = _message(name, memoryview(body), 0)
    return {"apiVersion": api_version, "kind": kind, **obj}


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 10 bytes")


def _fields(buf: memoryview) -> list[tuple[int, int, Any]]:
    """(number, wire type, raw value) of each field; length-delimited values as memoryviews."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = bytes(buf[pos : pos + 8]), pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = bytes(buf[pos : pos + 4]), pos + 4
        else:
            raise ProtobufError(f"field {number}: unsupported wire type {wire}")
        if pos > len(buf):
            raise ProtobufError(f"field {number}: truncated")
        out.append((number, wire, value))
    return out


def _signed(value: int, bits: int) -> int:
    value &= (1 << 64) - 1  # a negative int32 is sign-extended to 64 bits on the wire
    if value >= 1 << 63:
        value -= 1 << 64
    if bits == 32 and not -(1 << 31) <= value < 1 << 31:
        raise ProtobufError(f"{value} does not fit an int32")
    return value


def _scalar(ftype: str, wire: int, value: Any) -> Any:
    if ftype in _VARINTS:
        if wire != 0:
            raise ProtobufError(f"a {ftype} sent with wire type {wire}")
        if ftype == "bool":
            return value != 0
        if ftype in ("int32", "int64"):
            return _signed(value, 32 if ftype == "int32" else 64)
        return value
    if ftype == "double":
        if wire != 1:
            raise ProtobufError(f"a double sent with wire type {wire}")
        return struct.unpack("<d", value)[0]
    if ftype == "float":
        if wire != 5:
            raise ProtobufError(f"a float sent with wire type {wire}")
        return struct.unpack("<f", value)[0]
    if wire != 2:
        raise ProtobufError(f"a {ftype} sent with wire type {wire}")
    if ftype == "bytes":
        return base64.b64encode(bytes(value)).decode()
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtobufError(f"a string that is not UTF-8: {exc}") from None


def _packed(ftype: str, buf: memoryview) -> list[Any]:
    """A packed repeated scalar: the values back to back in one length-delimited field."""
    if ftype in _VARINTS:
        out, pos = [], 0
        while pos < len(buf):
            value, pos = _varint(buf, pos)
            out.append(_scalar(ftype, 0, value))
        return out
    size, fmt = (8, "<d") if ftype == "double" else (4, "<f")
    if len(buf) % size:
        raise ProtobufError(f"packed {ftype}s of {len(buf)} bytes")
    return [v for (v,) in struct.iter_unpack(fmt, bytes(buf))]


def _value(ftype: str, wire: int, value: Any, depth: int) -> Any:
    if ftype in _SCALARS:
        return _scalar(ftype, wire, value)
    if wire != 2:
        raise ProtobufError(f"a {ftype.rpartition('.')[2]} sent with wire type {wire}")
    return _message(ftype, value, depth + 1)


def _message(name: str, buf: memoryview, depth: int) -> Any:
    if depth > 64:
        raise ProtobufError("messages nested more than 64 deep")
    fields = _schema()[2][name]
    out: dict[str, Any] = {}
    inline: list[str] = []
    for number, wire, value in _fields(buf):
        field = fields.get(number)
        if field is None:
            continue  # unknown to this version: skipped, as upstream's decoder does
        fname, ftype, kind, flags = field
        if kind == "m":
            entry = _message_entry(ftype, value, depth)
            out.setdefault(fname, {}).update([entry])
        elif kind == "r":
            items = out.setdefault(fname, [])
            if wire == 2 and ftype in _SCALARS - {"string", "bytes"}:
                items.extend(_packed(ftype, value))
            else:
                items.append(_value(ftype, wire, value, depth))
        else:
            value = _value(ftype, wire, value, depth)
            if "z" in flags and not value and value is not None:
                continue  # a non-pointer zero value: omitempty leaves it out of JSON
            out[fname] = value
            if "i" in flags:
                inline.append(fname)
    special = _SPECIAL.get(name)
    if special is not None:
        return special(out)
    for fname in inline:  # an embedded struct: JSON writes its fields in the parent's
        embedded = out.pop(fname)
        if isinstance(embedded, dict):
            out.update(embedded)
    return {k: v for k, v in out.items() if v is not None}  # zero times: null, left out


def _message_entry(ftype: str, buf: Any, depth: int) -> tuple[str, Any]:
    """One map entry: key (field 1, a string in every Kubernetes map) and value (field 2)."""
    if not isinstance(buf, memoryview):
        raise ProtobufError("a map entry that is not length-delimited")
    key, value = "", _default(ftype)
    for number, wire, raw in _fields(buf):
        if number == 1:
            key = _scalar("string", wire, raw)
        elif number == 2:
            value = _value(ftype, wire, raw, depth)
    return key, value


def _default(ftype: str) -> Any:
    """A map value left out of its entry: the type's zero value."""
    if ftype == "string":
        return ""
    if ftype in _VARINTS:
        return False if ftype == "bool" else 0
    return None


def _time(fields: dict[str, Any], micro: bool) -> str | None:
    seconds, nanos = fields.get("seconds", 0), fields.get("nanos", 0)
    if not seconds and not nanos:
        return None  # Go's zero time: JSON null, left out here
    try:
        at = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ProtobufError(f"a time of {seconds} seconds is out of range") from None
    if not 0 <= nanos < 1_000_000_000:
        raise ProtobufError(f"a time's nanoseconds {nanos} are out of range")
    if micro:
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{nanos // 1000:06d}Z"
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(fields: dict[str, Any]) -> str:
    """Go's ``time.Duration.String``, as ``metav1.Duration`` writes JSON."""
    ns = int(fields.get("duration", 0))
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size or unit == "ns":
                return f"{sign}{_trim(ns / size)}{unit}"
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _trim(rest / 1e9)
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _trim(value: float) -> str:
    return f"{value:.9f}".rstrip("0").rstrip(".")


def _raw_json(fields: dict[str, Any], name: str) -> Any:
    raw = base64.b64decode(fields.get(name, ""))
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ProtobufError(f"embedded JSON that does not parse: {exc}") from None


_SPECIAL: Final[dict[str, Any]] = {
    "k8s.io.apimachinery.pkg.api.resource.Quantity": lambda f: f.get("string", "0"),
    _META + "Time": lambda f: _time(f, micro=False),
    _META + "MicroTime": lambda f: _time(f, micro=True),
    _META + "Duration": _duration,
    _META + "FieldsV1": lambda f: _raw_json(f, "Raw"),
    _META + "Verbs": lambda f: f.get("items", []),
    "k8s.io.apimachinery.pkg.runtime.RawExtension": lambda f: _raw_json(f, "raw"),
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": lambda f: (
        f.get("strVal", "") if f.get("type") == 1 else f.get("intVal", 0)
    ),
}
