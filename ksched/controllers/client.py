"""A raw-JSON Kubernetes REST client on the official client's configuration.

The official ``kubernetes`` package reads the kubeconfig (server, TLS
authority, bearer token or client certificate, in-cluster service account)
into its ``Configuration``; requests are plain HTTP/1.1 built from that
configuration, on one keep-alive connection per thread (``http_exchange``;
a watch on its own). Bodies stay ``dict``s: deserialising every object into
the generated model classes, or going through urllib3's pool, costs several
times the request itself (measured here: 1.37 ms of CPU per PATCH through
urllib3, 0.32 ms through ``http.client``; ``http_exchange`` then took the
client's CPU per request from 140 to 60 us), and controllers, kubelets and
the replay read only a few fields.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

import orjson

from ksched.controllers.http_exchange import DisconnectedError, Http11Connection

__all__ = [
    "DEPLOYMENTS",
    "EVENTS",
    "JOBS",
    "LEASES",
    "NODES",
    "PODS",
    "REPLICASETS",
    "ApiError",
    "ClientConfigError",
    "KubeClient",
    "Obj",
    "Resource",
    "WatchStream",
]

Obj = dict[str, Any]
JSON: Final = "application/json"
MERGE_PATCH: Final = "application/merge-patch+json"
USER_AGENT: Final = "ksched"
TOKEN_REFRESH: Final = 60.0


@dataclass(frozen=True)
class Resource:
    """One REST resource: where it lives and what its objects are called."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, sub: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
        if sub:
            base += f"/{sub}"
        return base


PODS: Final = Resource("", "v1", "pods", "Pod")
NODES: Final = Resource("", "v1", "nodes", "Node", namespaced=False)
EVENTS: Final = Resource("", "v1", "events", "Event")
LEASES: Final = Resource("coordination.k8s.io", "v1", "leases", "Lease")
REPLICASETS: Final = Resource("apps", "v1", "replicasets", "ReplicaSet")
DEPLOYMENTS: Final = Resource("apps", "v1", "deployments", "Deployment")
JOBS: Final = Resource("batch", "v1", "jobs", "Job")


class ClientConfigError(ValueError):
    """The kubeconfig (or in-cluster configuration) cannot be used; the message says why."""


class ApiError(Exception):
    """A non-2xx answer; ``reason`` is the ``Status`` reason (``NotFound``, ``Conflict``, ...)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def gone(self) -> bool:
        return self.status == 410


def _error(status: int, data: bytes) -> ApiError:
    try:
        body = orjson.loads(data)
    except ValueError:
        body = None
    if isinstance(body, dict):
        return ApiError(status, str(body.get("reason", "")), str(body.get("message", "")))
    return ApiError(status, "", data[:200].decode(errors="replace"))


class KubeClient:
    """Thread-safe: each thread keeps its own connection to the server."""

    def __init__(
        self,
        kubeconfig: str | None = None,
        *,
        configuration: Any = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        """From a kubeconfig file (None: in-cluster account) or a loaded ``configuration``."""
        cfg = self._load(kubeconfig) if configuration is None else configuration
        self.configuration = cfg
        self.host = str(cfg.host).rstrip("/")
        url = urlsplit(self.host)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ClientConfigError(f"{kubeconfig}: server {self.host!r} is not an http(s) URL")
        self._https = url.scheme == "https"
        self._address = (url.hostname, url.port or (443 if self._https else 80))
        self._prefix = url.path.rstrip("/")
        if getattr(cfg, "tls_server_name", None):
            raise ClientConfigError(f"{kubeconfig}: tls-server-name is not supported")
        self._ssl = self._ssl_context(cfg) if self._https else None
        self._local = threading.local()
        self._conns: list[Http11Connection] = []
        self._conns_lock = threading.Lock()
        self.user_agent = user_agent
        self._auth: dict[str, str] = {}
        self._auth_due = 0.0
        # Rendered header lines per Content-Type, until the credentials are re-derived.
        self._fields: dict[str | None, bytes] = {}

    @staticmethod
    def _load(kubeconfig: str | None) -> Any:
        from kubernetes import client, config

        cfg = client.Configuration()
        # The loaders are untyped; called through Callable[..., Any] names.
        load: Callable[..., Any]
        try:
            if kubeconfig is None:
                load = config.load_incluster_config
                load(client_configuration=cfg)
            else:
                load = config.load_kube_config
                load(config_file=kubeconfig, client_configuration=cfg)
        except Exception as exc:  # the loader fails in many ways on a malformed file
            where = kubeconfig or "in-cluster configuration"
            reason = str(exc) or type(exc).__name__
            raise ClientConfigError(f"{where}: not a usable kubeconfig ({reason})") from None
        return cfg

    def close(self) -> None:
        """Close every thread's connection (a later request opens a new one)."""
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _ssl_context(cfg: Any) -> ssl.SSLContext:
        """TLS as the configuration says: its CA, client certificate, verification."""
        ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert, cadata=cfg.ca_cert_data)
        if cfg.cert_file:
            ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
        if not cfg.verify_ssl:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif cfg.assert_hostname is False:
            ctx.check_hostname = False
        return ctx

    def _open(self) -> Http11Connection:
        host, port = self._address
        return Http11Connection(host, port, ssl_context=self._ssl)

    def _drop(self, conn: Http11Connection) -> None:
        conn.close()
        self._local.conn = None
        with self._conns_lock, contextlib.suppress(ValueError):
            self._conns.remove(conn)

    def _headers(self, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": JSON, "User-Agent": self.user_agent, **self._auth_headers()}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def _auth_headers(self) -> dict[str, str]:
        """The credentials' headers, re-derived at most every ``TOKEN_REFRESH`` s.

        The kubeconfig loader's refresh hook re-applies the whole auth
        section; client-go re-reads a token once a minute
        (``cachingTokenSource``), and so does this.
        """
        now = time.monotonic()
        if now >= self._auth_due:
            cfg = self.configuration
            if cfg.refresh_api_key_hook is not None:
                cfg.refresh_api_key_hook(cfg)
            settings: dict[str, dict[str, Any]] = dict(cfg.auth_settings())
            self._auth = {
                str(s["key"]): str(s["value"])
                for s in settings.values()
                if s["in"] == "header" and s["value"]
            }
            self._auth_due = now + TOKEN_REFRESH
            self._fields = {}
        return self._auth

    def _header_lines(self, content_type: str | None) -> bytes:
        """``_headers`` as request header lines, rendered once per credentials and type."""
        self._auth_headers()  # first: a refresh clears the rendered lines
        lines = self._fields.get(content_type)
        if lines is None:
            headers = self._headers(content_type)
            if any("\r" in v or "\n" in v for v in headers.values()):
                # A credential read from a file with a stray line break would end the header.
                raise ClientConfigError(
                    "a request header value (the credentials?) has a line break"
                )
            text = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            lines = self._fields[content_type] = text.encode("latin-1")
        return lines

    def _target(self, path: str, query: Mapping[str, Any] | None) -> str:
        target = self._prefix + path
        if query:
            target += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        if " " in target or not target.isprintable():
            raise ValueError(f"request target {target!r} has a space or a control character")
        return target

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float = 30.0,
    ) -> Obj:
        """One request; the decoded JSON answer, or ``ApiError``.

        A kept-alive connection the server closed meanwhile is reopened and
        the request sent again once (the server never saw it).
        """
        data = None if body is None else orjson.dumps(body)
        fields = self._header_lines(content_type if data is not None else None)
        target = self._target(path, query)
        for attempt in (0, 1):
            conn: Http11Connection | None = getattr(self._local, "conn", None)
            reused = conn is not None
            if conn is None:
                conn = self._local.conn = self._open()
                with self._conns_lock:
                    self._conns.append(conn)
            try:
                answer = conn.exchange(method, target, fields, data, timeout)
            except (DisconnectedError, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(conn)
                if reused and attempt == 0:
                    continue
                raise ConnectionError(f"{method} {path}: {exc}") from None
            except OSError as exc:
                self._drop(conn)
                raise ConnectionError(f"{method} {path}: {exc or type(exc).__name__}") from None
            if answer.will_close:
                self._drop(conn)
            if answer.status >= 300:
                raise _error(answer.status, answer.body)
            out: Obj = orjson.loads(answer.body) if answer.body else {}
            return out
        raise AssertionError("unreachable")

    # -- verbs -----------------------------------------------------------------------
    def get(self, res: Resource, name: str, namespace: str | None = None) -> Obj:
        return self.request("GET", res.path(namespace, name))

    def list(
        self,
        res: Resource,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
    ) -> Obj:
        """All pages of a list, merged; ``metadata.resourceVersion`` is the first page's."""
        query: dict[str, Any] = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "limit": limit,
        }
        first = self.request("GET", res.path(namespace), query=query)
        items: list[Obj] = list(first.get("items") or [])
        token = (first.get("metadata") or {}).get("continue")
        while token:
            page = self.request("GET", res.path(namespace), query={**query, "continue": token})
            items.extend(page.get("items") or [])
            token = (page.get("metadata") or {}).get("continue")
        first["items"] = items
        return first

    def create(self, res: Resource, obj: Obj, namespace: str | None = None) -> Obj:
        return self.request("POST", res.path(namespace), body=obj)

    def replace(self, res: Resource, obj: Obj, sub: str = "") -> Obj:
        meta = obj["metadata"]
        return self.request("PUT", res.path(meta.get("namespace"), meta["name"], sub), body=obj)

    def patch(
        self, res: Resource, name: str, patch: Obj, namespace: str | None = None, sub: str = ""
    ) -> Obj:
        """A JSON merge patch (RFC 7386), which every server speaking the API accepts."""
        return self.request(
            "PATCH", res.path(namespace, name, sub), body=patch, content_type=MERGE_PATCH
        )

    def delete(
        self,
        res: Resource,
        name: str,
        namespace: str | None = None,
        *,
        grace_period: int | None = None,
        propagation: str | None = None,
        uid: str | None = None,
    ) -> Obj:
        body: Obj = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        if propagation is not None:
            body["propagationPolicy"] = propagation
        if uid is not None:
            body["preconditions"] = {"uid": uid}
        return self.request("DELETE", res.path(namespace, name), body=body)

    def bind(self, namespace: str, name: str, node: str, uid: str | None = None) -> Obj:
        """``POST pods/<name>/binding``, as kube-scheduler binds."""
        meta: Obj = {"name": name, "namespace": namespace}
        if uid:
            meta["uid"] = uid
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": meta,
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        return self.request("POST", PODS.path(namespace, name, "binding"), body=body)

    def watch(
        self,
        res: Resource,
        resource_version: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> WatchStream:
        """Watch events from ``resource_version``; iterate the answer, ``close()`` to stop."""
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
        }
        return self.watch_path(res.path(namespace), query, timeout_seconds + 30.0)

    def watch_path(self, path: str, query: Mapping[str, Any], read_timeout: float) -> WatchStream:
        """A watch request as given (``watch=true`` is the caller's), on its own connection."""
        conn = self._open()
        fields = self._header_lines(None)
        try:
            status, parts = conn.stream("GET", self._target(path, query), fields, read_timeout)
            if status >= 300:
                data = b"".join(parts)
                conn.close()
                raise _error(status, data)
        except OSError as exc:
            conn.close()
            raise ConnectionError(f"watch {path}: {exc or type(exc).__name__}") from None
        return WatchStream(conn, parts)


class WatchStream:
    """The events (``{"type", "object"}``) of one watch request, as the server sends them.

    A 410 answer, or an ``ERROR`` event carrying a ``Status``, is raised as
    ``ApiError`` so the caller relists. ``close()`` may come from another
    thread: it shuts the socket, and iteration ends.
    """

    def __init__(self, conn: Http11Connection, parts: Iterator[bytes]) -> None:
        self._conn = conn
        self._parts = parts
        self.closed = False

    def close(self) -> None:
        self.closed = True
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __iter__(self) -> Iterator[Obj]:
        pending = b""  # the start of an event whose line has not ended yet
        try:
            for part in self._parts:
                if b"\n" not in part:
                    pending += part
                    continue
                lines = (pending + part if pending else part).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    if line.strip():
                        yield self._event(line)
            if pending.strip():
                yield self._event(pending)
        except (OSError, ValueError) as exc:
            if not self.closed:
                raise ConnectionError(f"watch stream: {exc or type(exc).__name__}") from None
        finally:
            self._conn.close()

    @staticmethod
    def _event(line: bytes) -> Obj:
        event: Obj = orjson.loads(line)
        if event.get("type") == "ERROR":
            status = event.get("object") or {}
            raise ApiError(
                int(status.get("code") or 500),
                str(status.get("reason", "")),
                str(status.get("message", "")),
            )
        return event
