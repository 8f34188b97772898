"""``Http11Connection`` and ``KubeClient.request`` against a TCP server on loopback that
answers with given bytes: every framing RFC 9112 allows, and the broken ones."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from kubernetes import client as k8s

from ksched.controllers.client import ApiError, ClientConfigError, KubeClient
from ksched.controllers.http_exchange import (
    DisconnectedError,
    Http11Connection,
    ProtocolError,
    TruncatedError,
)

# Per connection: one answer per request read; None: read a request, close unanswered;
# HANG_UP: close at once (after the previous answer).
Script = list[bytes | None]
HANG_UP = b""


@contextmanager
def server(*scripts: Script) -> Iterator[tuple[int, list[bytes]]]:
    """A server taking one connection per script; each request read gets the next answer."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    requests: list[bytes] = []

    def read_request(conn: socket.socket, buffered: bytearray) -> bytes | None:
        while b"\r\n\r\n" not in buffered:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buffered += chunk
        head, _, rest = bytes(buffered).partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += conn.recv(65536)
        buffered[:] = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]

    def serve() -> None:
        for script in scripts:
            conn, _ = listener.accept()
            buffered = bytearray()
            with conn:
                for answer in script:
                    if answer == HANG_UP:
                        break
                    request = read_request(conn, buffered)
                    if request is None:
                        break
                    requests.append(request)
                    if answer is None:
                        break
                    conn.sendall(answer)
                else:
                    read_request(conn, buffered)  # until the client closes

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port, requests
    finally:
        listener.close()


def ok(body: bytes, *fields: bytes, status: bytes = b"200 OK") -> bytes:
    head = b"HTTP/1.1 " + status + b"\r\n" + b"".join(f + b"\r\n" for f in fields)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def exchange(port: int, body: bytes | None = None, method: str = "GET") -> tuple[int, bytes]:
    conn = Http11Connection("127.0.0.1", port)
    try:
        answer = conn.exchange(method, "/x", b"Accept: application/json\r\n", body, 5.0)
        return answer.status, answer.body
    finally:
        conn.close()


def test_request_is_one_well_formed_message() -> None:
    with server([ok(b"{}")]) as (port, requests):
        assert exchange(port, b'{"a":1}', "POST") == (200, b"{}")
    assert requests == [
        b"POST /x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json\r\n"
        b"Content-Length: 7\r\n\r\n" % port + b'{"a":1}'
    ]


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (ok(b'{"a":1}'), b'{"a":1}'),
        (ok(b"xy", b"content-length: 2", b"X-Other: :"), b"xy"),  # case, repeated, colons
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n",
            b"abc0123456789abcdef",
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"after"), b"after"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        (b"HTTP/1.0 200 OK\r\n\r\nto the end", b"to the end"),
    ],
    ids=["length", "fields", "chunked", "interim-100", "no-content", "to-eof"],
)
def test_answer_framings(answer: bytes, body: bytes) -> None:
    script: Script = [answer, HANG_UP] if answer.startswith(b"HTTP/1.0") else [answer]
    with server(script) as (port, _):
        assert exchange(port)[1] == body


@pytest.mark.parametrize(
    ("answer", "error", "says"),
    [
        (b"SPDY/3 200 OK\r\n\r\n", ProtocolError, "status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", ProtocolError, "without a colon"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n", ProtocolError, "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", TruncatedError, "3 of 10"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ProtocolError, "chunk"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n", ProtocolError, "64 KiB"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", ProtocolError, "100 header"),
        (b"HTTP/1.1 200 OK\r\nContent-", TruncatedError, "inside its header"),
    ],
    ids=["not-http", "no-colon", "bad-length", "short", "bad-chunk", "long", "many", "cut"],
)
def test_malformed_answers_are_named_errors(answer: bytes, error: type, says: str) -> None:
    with server([answer, HANG_UP]) as (port, _), pytest.raises(error, match=says):
        exchange(port)


def client(port: int, token: str = "") -> KubeClient:
    cfg = k8s.Configuration()
    cfg.host = f"http://127.0.0.1:{port}"
    if token:
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
    return KubeClient(configuration=cfg)


def test_kept_alive_connection_dropped_by_the_server_is_retried_once() -> None:
    # The first connection answers once, then closes without answering the second request.
    scripts: tuple[Script, ...] = [ok(b'{"n":1}'), None], [ok(b'{"n":2}')]
    with server(*scripts) as (port, requests), client(port) as kube:
        assert kube.request("GET", "/a") == {"n": 1}
        assert kube.request("GET", "/b") == {"n": 2}
    assert [r.split(b" ")[1] for r in requests] == [b"/a", b"/b", b"/b"]


def test_fresh_connection_closed_unanswered_is_an_error_not_a_retry() -> None:
    refused = pytest.raises(ConnectionError, match="closed the connection")
    with server([None]) as (port, requests), client(port) as kube, refused:
        kube.request("GET", "/a")
    assert len(requests) == 1


def test_connection_close_answer_opens_a_new_connection() -> None:
    scripts: tuple[Script, ...] = [ok(b'{"n":1}', b"Connection: close")], [ok(b'{"n":2}')]
    with server(*scripts) as (port, _), client(port) as kube:
        assert kube.request("GET", "/a") == {"n": 1}
        assert kube.request("GET", "/b") == {"n": 2}


def test_error_answers_and_headers() -> None:
    status = b'{"kind":"Status","reason":"NotFound","message":"pods \\"x\\" not found"}'
    answer = ok(status, status=b"404 Not Found")
    with (
        server([answer]) as (port, requests),
        client(port, token="tok") as kube,
        pytest.raises(ApiError) as caught,
    ):
        kube.request("PATCH", "/p", body={"a": 1}, content_type="application/merge-patch+json")
    assert (caught.value.status, caught.value.reason) == (404, "NotFound")
    head = requests[0].split(b"\r\n\r\n")[0].lower().split(b"\r\n")
    assert b"authorization: bearer tok" in head
    assert b"content-type: application/merge-patch+json" in head
    assert b"accept: application/json" in head


def test_line_breaks_in_credentials_or_target_are_refused() -> None:
    with client(1, token="tok\r\nX-Evil: 1") as kube, pytest.raises(ClientConfigError):
        kube.request("GET", "/a")
    with client(1) as kube, pytest.raises(ValueError, match="control character"):
        kube.request("GET", "/a\r\nX: y")


def chunked(*chunks: bytes, end: bool = True) -> bytes:
    out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    out += b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    return out + (b"0\r\n\r\n" if end else b"")


def test_watch_events_split_and_joined_across_chunks() -> None:
    a, b, c = (b'{"type":"ADDED","object":{"n":%d}}' % i for i in range(3))
    answer = chunked(a[:10], a[10:] + b"\n" + b + b"\n", c + b"\n")
    with server([answer, HANG_UP]) as (port, requests), client(port) as kube:
        events = list(kube.watch_path("/api/v1/pods", {"watch": "true"}, 5.0))
    assert [e["object"]["n"] for e in events] == [0, 1, 2]
    assert requests[0].startswith(b"GET /api/v1/pods?watch=true HTTP/1.1\r\n")


def test_watch_error_event_and_gone_answer_raise_api_errors() -> None:
    error = b'{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}\n'
    expired = pytest.raises(ApiError)
    with server([chunked(error), HANG_UP]) as (port, _), client(port) as kube, expired as caught:
        list(kube.watch_path("/p", {}, 5.0))
    assert (caught.value.status, caught.value.reason) == (410, "Expired")
    gone = ok(b'{"kind":"Status","code":410,"reason":"Gone"}', status=b"410 Gone")
    refused = pytest.raises(ApiError, match="Gone")
    with server([gone, HANG_UP]) as (port, _), client(port) as kube, refused:
        kube.watch_path("/p", {}, 5.0)


def test_watch_closed_from_another_thread_ends_quietly() -> None:
    first = b'{"type":"ADDED","object":{"n":1}}\n'
    with server([chunked(first, end=False)]) as (port, _), client(port) as kube:
        stream = kube.watch_path("/p", {}, 30.0)
        seen = []
        for event in stream:
            seen.append(event)
            threading.Timer(0.1, stream.close).start()  # the server sends nothing more
    assert seen == [{"type": "ADDED", "object": {"n": 1}}]


def test_watch_cut_mid_chunk_is_a_connection_error() -> None:
    cut = chunked(b'{"type":"ADDED","object":{}}\n', end=False) + b'40\r\n{"type"'
    with server([cut, HANG_UP]) as (port, _), client(port) as kube:
        events: list[dict[str, object]] = []
        with pytest.raises(ConnectionError, match="inside a chunk"):
            events.extend(kube.watch_path("/p", {}, 5.0))
    assert len(events) == 1


def test_connecting_to_nothing_is_a_connection_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: the connect is refused
        with client(port) as kube, pytest.raises(ConnectionError, match="GET /a"):
            kube.request("GET", "/a", timeout=2.0)


def test_answer_cut_short_is_not_sent_again() -> None:
    """The server saw the request: repeating a POST would create twice."""
    cut = b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\nabc"
    scripts: tuple[Script, ...] = [ok(b"{}"), cut, HANG_UP], [ok(b"{}")]
    with server(*scripts) as (port, requests), client(port) as kube:
        kube.request("GET", "/warm")  # the connection is now a kept-alive one
        with pytest.raises(ConnectionError, match="3 of 10"):
            kube.request("POST", "/pods", body={})
    assert [r.split(b" ")[1] for r in requests] == [b"/warm", b"/pods"]


def test_closed_unanswered_is_disconnected() -> None:
    with server([None]) as (port, _), pytest.raises(DisconnectedError, match="without answering"):
        exchange(port)
