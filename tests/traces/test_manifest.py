"""Bundled manifests: valid, pinned to commits, and checksums equal to the local copies."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from ksched.traces import TraceFormatError, load_manifest, manifest_names, traces_root, verify

TRACES = [
    "alibaba-genai-2026",
    "alibaba-gpu-2020",
    "alibaba-gpu-2023",
    "alibaba-gpu-dlrm-2025",
    "alibaba-spot-gpu-2026",
    "google-borg-2019",
]
# Files of the local copy with no upstream URL of their own.
NOT_UPSTREAM = {
    "alibaba-gpu-2023/NOTES-fgd-experiments.md",
    "alibaba-gpu-2020/pai_machine_spec.csv",
}
PINNED = re.compile(r"^https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/")


def sha256sums() -> dict[str, str]:
    path = traces_root() / "SHA256SUMS"
    if not path.is_file():
        pytest.skip(f"{path} not found (set KSCHED_TRACES_DIR to the traces)")
    sums = {}
    for line in path.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.removeprefix("./")] = digest
    return sums


def test_one_manifest_per_public_trace() -> None:
    assert manifest_names() == TRACES


@pytest.mark.parametrize("name", TRACES)
def test_manifest_is_complete_and_pinned(name: str) -> None:
    m = load_manifest(name)
    assert m.name == name and m.title and m.description and m.licence
    assert "@inproceedings" in m.citation
    assert m.files
    for f in m.files:
        assert PINNED.match(f.url), f.url


@pytest.mark.parametrize("name", TRACES)
def test_checksums_equal_sha256sums(name: str) -> None:
    sums = sha256sums()
    listed = {f"{name}/{f.path}": f.sha256 for f in load_manifest(name).files}
    expected = {k: v for k, v in sums.items() if k.startswith(f"{name}/") and k not in NOT_UPSTREAM}
    assert listed == expected


@pytest.mark.parametrize("name", TRACES)
def test_local_copy_verifies(name: str, trace_dir: Callable[[str], Path]) -> None:
    folder = trace_dir(name)
    assert verify(load_manifest(name), folder) == {}


def test_verify_reports_problems(tmp_path: Path) -> None:
    m = load_manifest("alibaba-gpu-dlrm-2025")
    (tmp_path / "README.upstream.md").write_text("not the readme")
    assert verify(m, tmp_path) == {
        "README.upstream.md": "sha256 mismatch",
        "disaggregated_DLRM_trace.csv": "missing",
    }


GOOD = """name: demo
title: Demo
description: A demo trace.
licence: CC-BY-4.0
citation: "@misc{demo}"
files:
  - path: data/a.csv
    url: https://example.org/a.csv
    sha256: {sha}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("{sha}", "a" * 64).replace("licence: CC-BY-4.0\n", ""),
         "demo.yaml: licence: Field required"),
        (GOOD.replace("{sha}", "abc"),
         "demo.yaml: files.0.sha256: Value error, must be 64 lowercase hexadecimal digits"),
        (GOOD.replace("{sha}", "a" * 64).replace("https://example.org", "file:///etc"),
         "demo.yaml: files.0.url: Value error, must be an http(s) URL, got 'file:///etc/a.csv'"),
        (GOOD.replace("{sha}", "a" * 64).replace("data/a.csv", "../a.csv"),
         "demo.yaml: files.0.path: Value error, must be a relative path inside the trace"
         " folder, got '../a.csv'"),
        (GOOD.replace("{sha}", "a" * 64).replace("name: demo", "name: other"),
         "demo.yaml: name: 'other' does not match the file name"),
        (GOOD.replace("{sha}", "a" * 64) + "extra: 1\n",
         "demo.yaml: extra: Extra inputs are not permitted"),
    ],
    ids=["missing-field", "bad-sha", "bad-url", "escaping-path", "name-mismatch", "extra-field"],
)  # fmt: skip
def test_bad_manifests(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "demo.yaml").write_text(text)
    with pytest.raises(TraceFormatError) as info:
        load_manifest("demo", tmp_path)
    assert str(info.value) == message


def test_unknown_manifest(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no manifest 'nope' .* \(known: none\)"):
        load_manifest("nope", tmp_path)
