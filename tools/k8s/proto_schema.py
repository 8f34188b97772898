"""Write ``ksched/apiserver/protobuf_schema.json`` from the pinned Kubernetes API's .proto files.

``kubectl create deployment`` and other typed-client commands send their
bodies as ``application/vnd.kubernetes.protobuf``; decoding them needs each
message's field numbers, names and types. They come from the
``generated.proto`` files of the ``k8s.io/api`` and ``k8s.io/apimachinery``
modules that ``tools/k8s/build.sh`` downloads (the versions ``go.mod`` pins),
kept only for the messages reachable from the kinds ``ksched apiserver``
serves. Run after changing the pinned version::

    python3 tools/k8s/proto_schema.py            # writes the schema
    python3 tools/k8s/proto_schema.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "ksched" / "apiserver" / "protobuf_schema.json"

# apiVersion -> proto package of its kinds, and the kinds whose bodies are decoded.
GROUPS = {
    "v1": (
        "k8s.io/api",
        "core/v1",
        ["Pod", "Node", "Namespace", "Event", "Binding", "ConfigMap", "Secret"],
    ),
    "apps/v1": ("k8s.io/api", "apps/v1", ["Deployment", "ReplicaSet"]),
    "batch/v1": ("k8s.io/api", "batch/v1", ["Job"]),
    "policy/v1": ("k8s.io/api", "policy/v1", ["PodDisruptionBudget", "Eviction"]),
    "coordination.k8s.io/v1": ("k8s.io/api", "coordination/v1", ["Lease"]),
    "events.k8s.io/v1": ("k8s.io/api", "events/v1", ["Event"]),
    "autoscaling/v1": ("k8s.io/api", "autoscaling/v1", ["Scale"]),
    "scheduling.k8s.io/v1": ("k8s.io/api", "scheduling/v1", ["PriorityClass"]),
}
# Every group version also takes meta/v1 DeleteOptions.
META = ("k8s.io/apimachinery", "pkg/apis/meta/v1")
SUPPORT = [
    META,
    ("k8s.io/apimachinery", "pkg/runtime"),
    ("k8s.io/apimachinery", "pkg/runtime/schema"),
    ("k8s.io/apimachinery", "pkg/api/resource"),
    ("k8s.io/apimachinery", "pkg/util/intstr"),
]

_COMMENT = re.compile(r"//[^\n]*")
_PACKAGE = re.compile(r"^package\s+([\w.]+);", re.M)
_MESSAGE = re.compile(r"^message\s+(\w+)\s*\{(.*?)^\}", re.M | re.S)
_FIELD = re.compile(
    r"^\s*(?:(optional|repeated)\s+([\w.]+)|map<\s*string\s*,\s*([\w.]+)\s*>)\s+(\w+)\s*=\s*(\d+)\s*;",
    re.M,
)
_SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "double", "float"}


def _module_dir(module: str) -> Path:
    """The pinned module's folder in the Go module cache (``go mod download`` if missing)."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", module],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(json.loads(out.stdout)["Dir"])


def _parse(path: Path) -> tuple[str, dict[str, list[list[Any]]]]:
    """(package, messages by full name: sorted ``[number, name, type, o|r|m]`` fields)."""
    text = _COMMENT.sub("", path.read_text())
    package = _PACKAGE.search(text)
    if package is None:
        raise SystemExit(f"{path}: no package statement")
    messages: dict[str, list[list[Any]]] = {}
    for name, body in _MESSAGE.findall(text):
        fields = []
        for label, ftype, map_value, fname, number in _FIELD.findall(body):
            kind = "m" if map_value else ("r" if label == "repeated" else "o")
            ftype = map_value or ftype
            if ftype not in _SCALARS:
                ftype = ftype.lstrip(".") if ftype.startswith(".") else f"{package[1]}.{ftype}"
            fields.append([int(number), fname, ftype, kind])
        messages[f"{package[1]}.{name}"] = sorted(fields)
    return package[1], messages


_STRUCT = re.compile(r"^type\s+(\w+)\s+struct\s*\{(.*?)^\}", re.M | re.S)
_GO_FIELD = re.compile(r"^\t(?:(\w+)\s+)?([^\s`]+)\s+`([^`]*)`", re.M)
_TAG = re.compile(r'(\w+):"([^"]*)"')


GoField = tuple[str, bool, bool, str, str]


def _go_fields(folder: Path) -> dict[str, dict[int, GoField]]:
    """Struct -> protobuf field number -> (JSON name, omitempty, Go pointer, patch strategy,
    patch merge key), from the Go types.

    The JSON name is "" for an embedded struct, whose fields JSON inlines.
    """
    out: dict[str, dict[int, GoField]] = {}
    for path in sorted(folder.glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        for name, body in _STRUCT.findall(path.read_text()):
            fields = {}
            for _, gotype, tags in _GO_FIELD.findall(body):
                tag = dict(_TAG.findall(tags))
                if "protobuf" not in tag or "json" not in tag:
                    continue
                number = int(tag["protobuf"].split(",")[1])
                json_name, _, options = tag["json"].partition(",")
                if json_name == "-":  # a custom JSON form (FieldsV1, Unknown): the proto name
                    json_name = tag["protobuf"].partition(",name=")[2].partition(",")[0]
                fields[number] = (
                    json_name,
                    "omitempty" in options,
                    gotype.startswith("*"),
                    tag.get("patchStrategy", ""),
                    tag.get("patchMergeKey", ""),
                )
            out[name] = fields
    return out


def _annotate(messages: dict[str, list[list[Any]]], go: dict[str, dict[int, GoField]]) -> None:
    """Give each field its JSON name, flags ("i" inlined, "z" left out when zero) and its
    strategic-merge patch strategy and merge key."""
    for name, fields in messages.items():
        go_fields = go.get(name.rpartition(".")[2], {})
        for field in fields:
            default: GoField = (field[1], True, False, "", "")
            json_name, omitempty, pointer, strategy, key = go_fields.get(field[0], default)
            flags = "i" if json_name == "" else ""
            if omitempty and not pointer and field[3] == "o" and field[2] in _SCALARS:
                flags += "z"
            field[1] = json_name or field[1]
            field += [flags, strategy, key]


def _proto_of(package: str, modules: dict[str, Path]) -> Path:
    """The .proto file of a package a kept message refers to (``k8s.io.api.scheduling.v1``)."""
    for module in ("k8s.io/apimachinery", "k8s.io/api"):
        prefix = module.replace("/", ".") + "."
        if package.startswith(prefix):
            folder = package.removeprefix(prefix).replace(".", "/")
            return modules[module] / folder / "generated.proto"
    raise SystemExit(f"no module holds package {package}")


def build() -> dict[str, Any]:
    modules = {m: _module_dir(m) for m in ("k8s.io/api", "k8s.io/apimachinery")}
    versions = {m: d.name.rpartition("@")[2] for m, d in modules.items()}
    messages: dict[str, list[list[Any]]] = {}
    packages: dict[str, str] = {}
    for module, folder in [*(v[:2] for v in GROUPS.values()), *SUPPORT]:
        package, parsed = _parse(modules[module] / folder / "generated.proto")
        messages.update(parsed)
        packages[f"{module}/{folder}"] = package
    kinds = {}
    for api_version, (module, folder, names) in GROUPS.items():
        for kind in names:
            kinds[f"{api_version}/{kind}"] = f"{packages[f'{module}/{folder}']}.{kind}"
    kinds["*/DeleteOptions"] = f"{packages['/'.join(META)]}.DeleteOptions"
    # The envelope every body comes in: runtime.Unknown, its raw bytes the object's message.
    envelope = f"{packages['k8s.io/apimachinery/pkg/runtime']}.Unknown"
    # Keep what the kinds and the envelope reach.
    keep: set[str] = set()
    todo = [envelope, *kinds.values()]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        if name not in messages:
            messages.update(_parse(_proto_of(name.rpartition(".")[0], modules))[1])
        if name not in messages:
            raise SystemExit(f"message {name} is not defined in its package's .proto file")
        keep.add(name)
        todo += [f[2] for f in messages[name] if f[2] not in _SCALARS]
    kept = {name: messages[name] for name in sorted(keep)}
    for package in sorted({name.rpartition(".")[0] for name in kept}):
        in_package = {k: v for k, v in kept.items() if k.rpartition(".")[0] == package}
        _annotate(in_package, _go_fields(_proto_of(package, modules).parent))
    return {
        "source": {m: f"{m}@{v} generated.proto and Go types" for m, v in sorted(versions.items())},
        "envelope": envelope,
        "kinds": dict(sorted(kinds.items())),
        "messages": kept,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()
    text = json.dumps(build(), separators=(",", ":"), sort_keys=False) + "\n"
    if args.check:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python3 tools/k8s/proto_schema.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
