"""One kept-alive HTTP/1.1 connection for request/answer exchanges, without ``http.client``.

Every component talks to the API server through ``KubeClient``, several
requests per replayed pod. ``http.client`` parses each answer's header
block with the ``email`` package's parser and builds the request header by
header; measured here against a trivial server, that was about two thirds of
the client's CPU per request. This writes the request in one ``sendall`` and
reads the answer with a few ``readline`` calls (RFC 9112: status line,
fields, then a body framed by ``Content-Length``, chunked, or the end of the
connection).
"""

from __future__ import annotations

import io
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = ["Answer", "DisconnectedError", "Http11Connection", "ProtocolError", "TruncatedError"]

MAX_LINE: Final = 65536
MAX_FIELDS: Final = 100
# Statuses whose answers have no body (RFC 9110 section 6.4.1).
NO_BODY: Final = frozenset({204, 304})


class DisconnectedError(ConnectionError):
    """The server closed the connection before any of its answer: a kept-alive connection it
    dropped, so the request may be sent again."""


class TruncatedError(ConnectionError):
    """The answer stopped part way: the server saw the request, which must not be repeated."""


class ProtocolError(ConnectionError):
    """The answer is not HTTP/1.1 as RFC 9112 frames it; the message says where."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    will_close: bool  # the server ends the connection after this answer


class Http11Connection:
    """A TCP (or TLS) connection, opened on the first exchange; one exchange at a time."""

    def __init__(self, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port = host, port
        self.ssl_context = ssl_context
        default = 443 if ssl_context is not None else 80
        shown = f"[{host}]" if ":" in host else host
        # As http.client: the port only when it is not the scheme's.
        self.host_header = shown if port == default else f"{shown}:{port}"
        self.sock: socket.socket | None = None
        self._reader: _Reader | None = None

    def _open(self, timeout: float) -> _Reader:
        """Connect (and shake hands) within the exchange's ``timeout``, as http.client does."""
        sock = socket.create_connection((self.host, self.port), timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock
        self._reader = _Reader(sock.makefile("rb"))
        return self._reader

    def close(self) -> None:
        sock, reader = self.sock, self._reader
        self.sock = self._reader = None
        if reader is not None:
            reader.file.close()
        if sock is not None:
            sock.close()

    def _send(
        self, method: str, target: str, fields: bytes, body: bytes | None, timeout: float
    ) -> _Reader:
        reader = self._reader or self._open(timeout)
        assert self.sock is not None
        self.sock.settimeout(timeout)
        length = b"" if body is None else b"Content-Length: %d\r\n" % len(body)
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host_header}\r\n".encode("latin-1")
        self.sock.sendall(b"".join((head, fields, length, b"\r\n", body or b"")))
        return reader

    def stream(
        self, method: str, target: str, fields: bytes, timeout: float
    ) -> tuple[int, Iterator[bytes]]:
        """Send a request; its status and its body's parts as they arrive (a watch's events).

        The connection serves this answer alone: close it when done.
        """
        try:
            reader = self._send(method, target, fields, None, timeout)
            head = reader.head()
        except BaseException:
            self.close()
            raise
        return head.status, reader.parts(head)

    def exchange(
        self, method: str, target: str, fields: bytes, body: bytes | None, timeout: float
    ) -> Answer:
        """Send one request (``fields``: its header lines, each ending in CRLF) and read the answer.

        Raises ``DisconnectedError`` when the server closed the connection
        unanswered, ``TruncatedError`` when the answer stops part way,
        ``ProtocolError`` on a malformed answer, ``OSError``
        (timeouts included) from the socket. On any of them the connection is
        closed.
        """
        try:
            answer = self._send(method, target, fields, body, timeout).answer(method)
        except BaseException:
            self.close()
            raise
        if answer.will_close:
            self.close()
        return answer


@dataclass(frozen=True, slots=True)
class _Head:
    status: int
    length: int | None  # Content-Length, when the body is framed by it
    chunked: bool
    closing: bool


class _Reader:
    def __init__(self, file: io.BufferedReader) -> None:
        self.file = file
        self._readline = file.readline
        self._read = file.read

    def _line(self) -> bytes:
        line: bytes = self._readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise ProtocolError("a line of the answer is longer than 64 KiB")
        return line

    def answer(self, method: str) -> Answer:
        head = self.head()
        if head.status in NO_BODY or method == "HEAD":
            return Answer(head.status, b"", head.closing)
        body = b"".join(self.parts(head))
        to_the_end = head.length is None and not head.chunked  # framed by the connection's end
        return Answer(head.status, body, head.closing or to_the_end)

    def head(self) -> _Head:
        """The status line and header fields, interim (1xx) answers skipped."""
        while True:
            line = self._line()
            if not line:
                raise DisconnectedError("the server closed the connection without answering")
            version, _, rest = line.partition(b" ")
            code = rest[:3]
            if not version.startswith(b"HTTP/1.") or not code.isdigit():
                raise ProtocolError(f"not an HTTP/1.x status line: {line[:80]!r}")
            status = int(code)
            length, chunked, connection = self._fields()
            if status >= 200:
                break  # 1xx interim answers (100 Continue, 103 Early Hints) are skipped
        old = version == b"HTTP/1.0"
        closing = b"close" in connection or (old and b"keep-alive" not in connection)
        return _Head(status, None if chunked else length, chunked, closing)

    def parts(self, head: _Head) -> Iterator[bytes]:
        """The body as it arrives: chunks, or reads up to its length or the connection's end."""
        if head.chunked:
            yield from self._chunks()
        elif head.length is not None:
            body: bytes = self._read(head.length)
            if len(body) != head.length:
                raise TruncatedError(f"the answer ended after {len(body)} of {head.length} bytes")
            yield body
        else:
            while part := self.file.read1(65536):
                yield part

    def _fields(self) -> tuple[int | None, bool, bytes]:
        """(Content-Length, chunked, Connection tokens lower-cased) of the field block."""
        length: int | None = None
        chunked = False
        connection = b""
        for _ in range(MAX_FIELDS + 1):
            line = self._line()
            if line in (b"\r\n", b"\n"):
                return length, chunked, connection
            if not line.endswith(b"\n"):
                raise TruncatedError("the answer ended inside its header")
            name, sep, value = line.partition(b":")
            if not sep:
                raise ProtocolError(f"a header line without a colon: {line[:80]!r}")
            name = name.strip().lower()
            if name == b"content-length":
                text = value.strip()
                if not text.isdigit():
                    raise ProtocolError(f"Content-Length is not a number: {text[:40]!r}")
                length = int(text)
            elif name == b"transfer-encoding":
                chunked = value.strip().lower().endswith(b"chunked")
            elif name == b"connection":
                connection = value.strip().lower()
        raise ProtocolError(f"the answer has more than {MAX_FIELDS} header lines")

    def _chunks(self) -> Iterator[bytes]:
        while True:
            size_line = self._line()
            size_text = size_line.partition(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                if not size_line:
                    raise TruncatedError("the answer ended between chunks") from None
                raise ProtocolError(f"not a chunk size: {size_line[:40]!r}") from None
            if size == 0:
                break
            data: bytes = self._read(size + 2)
            if len(data) != size + 2:
                raise TruncatedError("the answer ended inside a chunk")
            yield data[:size]
        while self._line() not in (b"\r\n", b"\n", b""):
            pass  # trailer fields: nothing here reads them
