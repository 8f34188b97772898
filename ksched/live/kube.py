"""The API server through the official ``kubernetes`` client's transport, with raw JSON bodies.

The client owns kubeconfig and in-cluster loading, TLS and authentication;
bodies stay plain JSON because its typed models cost far more than a
scheduling cycle per pod, and ksched parses pods into its own models anyway.
Requests other than watches pass a token bucket of ``clientConnection.qps``
and ``burst``, as client-go's rate limiter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlencode

import orjson
import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

__all__ = ["ApiError", "KubeClient", "RateLimiter"]

# client-go rest.Config defaults when QPS/Burst are left at zero.
DEFAULT_QPS: Final = 5.0
DEFAULT_BURST: Final = 10
REQUEST_TIMEOUT: Final = 30.0
TOKEN_REFRESH: Final = 60.0


class ApiError(Exception):
    """A refused or failed request: HTTP status (0: no response), Status reason and message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}" if status else message)
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


class RateLimiter:
    """Token bucket: ``burst`` tokens, refilled at ``qps``; a negative qps disables it."""

    def __init__(self, qps: float, burst: int) -> None:
        if qps == 0:
            qps, burst = DEFAULT_QPS, burst or DEFAULT_BURST
        self.qps = qps
        self.burst = max(burst, 1)
        self._tokens = float(self.burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if self.qps < 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1.0
            delay = -self._tokens / self.qps if self._tokens < 0 else 0.0
        if delay > 0:
            time.sleep(delay)


def _error_from(status: int, body: bytes) -> ApiError:
    try:
        doc = orjson.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        return ApiError(status, str(doc.get("reason", "")), str(doc.get("message", "")))
    return ApiError(status, "", body.decode("utf-8", "replace")[:500])


class KubeClient:
    """One API server connection pool shared by informers, binder, recorder and elector."""

    def __init__(self, api_client: Any, qps: float = 50.0, burst: int = 100) -> None:
        self.api = api_client
        self.base_url = str(api_client.configuration.host).rstrip("/")
        self.user_agent = str(api_client.user_agent)
        self.limiter = RateLimiter(qps, burst)
        self._cached_token: str | None = None
        self._token_due = 0.0

    @classmethod
    def connect(
        cls,
        kubeconfig: str | None,
        *,
        qps: float = 50.0,
        burst: int = 100,
        pool_size: int = 32,
    ) -> KubeClient:
        """From a kubeconfig file, or the pod's service account when ``kubeconfig`` is None.

        Raises ``ApiError`` (status 0) when neither is usable, naming why.
        """
        configuration = k8s_client.Configuration()
        try:
            if kubeconfig:
                k8s_config.load_kube_config(
                    config_file=kubeconfig, client_configuration=configuration
                )
            else:
                k8s_config.load_incluster_config(client_configuration=configuration)
        except (ConfigException, OSError, ValueError, TypeError) as exc:
            where = kubeconfig or "in-cluster service account"
            hint = "" if kubeconfig else " (outside a pod, pass --kubeconfig)"
            raise ApiError(0, "", f"cannot load {where}: {exc}{hint}") from None
        configuration.connection_pool_maxsize = pool_size
        return cls(k8s_client.ApiClient(configuration), qps, burst)

    def _token(self) -> str | None:
        """The bearer token, re-read at most every ``TOKEN_REFRESH`` s.

        The client's refresh hook reloads the whole kubeconfig on every call;
        client-go re-reads a token file once a minute (``cachingTokenSource``).
        """
        now = time.monotonic()
        if now >= self._token_due:
            config = self.api.configuration
            self._cached_token = config.get_api_key_with_prefix(
                "BearerToken", alias="authorization"
            )
            self._token_due = now + TOKEN_REFRESH
        return self._cached_token

    def close(self) -> None:
        self.api.rest_client.pool_manager.clear()

    def _send(
        self,
        method: str,
        path: str,
        query: Mapping[str, object] | None,
        body: object,
        content_type: str,
        timeout: float | tuple[float, float],
    ) -> urllib3.BaseHTTPResponse:
        """One request on the client's connection pool (its TLS, proxy and client certificate).

        The client's own ``call_api`` re-derives the server URL (reading
        every proxy variable of the environment) and re-wraps the answer on
        every call, a third of a request's CPU; the pool it configured is
        used directly instead.
        """
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        token = self._token()
        if token:
            headers["authorization"] = token
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = orjson.dumps(body)
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        limit = (
            urllib3.Timeout(connect=timeout[0], read=timeout[1])
            if isinstance(timeout, tuple)
            else urllib3.Timeout(total=timeout)
        )
        try:
            return self.api.rest_client.pool_manager.request(  # type: ignore[no-any-return]
                method, url, body=data, headers=headers, timeout=limit, preload_content=False
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiError(0, "", f"{method} {path}: {exc}") from None

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        body: object = None,
        content_type: str = "application/json",
        timeout: float = REQUEST_TIMEOUT,
    ) -> Any:
        """The decoded JSON answer; ``ApiError`` for a non-2xx answer or a lost connection."""
        self.limiter.wait()
        response = self._send(method, path, query, body, content_type, timeout)
        try:
            data: bytes = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiError(0, "", f"{method} {path}: {exc}") from None
        finally:
            response.release_conn()
        if not 200 <= response.status <= 299:
            raise _error_from(response.status, data)
        return orjson.loads(data) if data else None

    def watch(
        self,
        path: str,
        query: Mapping[str, object],
        *,
        read_timeout: float,
        opened: threading.Event | None = None,
        holder: list[Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The events of a watch, one decoded line each, until the server ends it.

        ``holder`` receives the open urllib3 response, so another thread can
        shut it down to stop a blocked read.
        """
        raw = self._send("GET", path, {**query, "watch": "true"}, None, "", (10, read_timeout))
        if not 200 <= raw.status <= 299:
            try:
                raise _error_from(raw.status, raw.read())
            finally:
                raw.release_conn()
        if holder is not None:
            holder.append(raw)
        if opened is not None:
            opened.set()
        buffer = b""
        try:
            for chunk in raw.stream(65536, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield orjson.loads(line)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise ApiError(0, "", f"watch {path}: {exc}") from None
        finally:
            raw.release_conn()
