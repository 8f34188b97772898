"""fetch() against an HTTP server on 127.0.0.1 serving a temporary folder; never the internet."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ksched.traces import (
    ChecksumMismatchError,
    Manifest,
    ManifestFile,
    TraceFetchError,
    default_cache_dir,
    fetch,
)

FILES = {"a.csv": b"name,cpu\np,1\n", "sub/b.txt": b"hello\n" * 1000}


@dataclass
class Server:
    url: str
    root: Path
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "www"
    for name, data in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    hits: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            hits.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", root, hits)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def manifest(base: str, sha: dict[str, str] | None = None) -> Manifest:
    digests = {n: hashlib.sha256(d).hexdigest() for n, d in FILES.items()} | (sha or {})
    return Manifest(
        name="demo",
        title="Demo",
        description="Served from a loopback server.",
        licence="CC0",
        citation="@misc{demo}",
        files=tuple(
            ManifestFile(path=n, url=f"{base}/{n}", sha256=digests[n], bytes=len(FILES[n]))
            for n in FILES
        ),
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_downloads_and_verifies(server: Server, tmp_path: Path) -> None:
    out = fetch(manifest(server.url), tmp_path / "cache", timeout=10)
    assert out == tmp_path / "cache" / "demo"
    for name, data in FILES.items():
        assert (out / name).read_bytes() == data
    assert leftovers(out) == ["a.csv", "b.txt"]
    assert sorted(server.hits) == ["/a.csv", "/sub/b.txt"]


def test_verified_files_are_not_downloaded_again(server: Server, tmp_path: Path) -> None:
    m = manifest(server.url)
    out = fetch(m, tmp_path, timeout=10)
    server.hits.clear()
    fetch(m, tmp_path, timeout=10)
    assert server.hits == []
    (out / "a.csv").write_bytes(b"corrupted")
    fetch(m, tmp_path, timeout=10)
    assert server.hits == ["/a.csv"]
    assert (out / "a.csv").read_bytes() == FILES["a.csv"]


def test_only_the_requested_files(server: Server, tmp_path: Path) -> None:
    out = fetch(manifest(server.url), tmp_path, files=["sub/b.txt"], timeout=10)
    assert leftovers(out) == ["b.txt"]


def test_checksum_mismatch_leaves_nothing_behind(server: Server, tmp_path: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(ChecksumMismatchError) as info:
        fetch(manifest(server.url, {"a.csv": wrong}), tmp_path / "cache", timeout=10)
    actual = hashlib.sha256(FILES["a.csv"]).hexdigest()
    assert str(info.value) == (
        f"a.csv: SHA-256 mismatch: expected {wrong}, got {actual}; the download was discarded"
    )
    assert isinstance(info.value, TraceFetchError)
    assert not (tmp_path / "cache" / "demo" / "a.csv").exists()
    assert leftovers(tmp_path / "cache") == []


def test_http_error(server: Server, tmp_path: Path) -> None:
    (server.root / "a.csv").unlink()
    with pytest.raises(TraceFetchError, match=r"cannot download .*/a.csv: HTTP 404"):
        fetch(manifest(server.url), tmp_path / "cache", timeout=10)
    assert leftovers(tmp_path / "cache") == []


def test_offline_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on once this socket closes
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TraceFetchError) as info:
        fetch(manifest(f"http://127.0.0.1:{port}"), tmp_path, timeout=5)
    message = str(info.value)
    assert message.startswith(f"cannot download http://127.0.0.1:{port}/a.csv:")
    assert "may be offline" in message and "KSCHED_TRACES_DIR" in message
    assert leftovers(tmp_path) == []


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KSCHED_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("KSCHED_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "ksched" / "traces"
