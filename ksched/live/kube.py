"""The API server for the live scheduler, with raw JSON bodies and a client-side rate limit.

The official client loads the kubeconfig or in-cluster account (TLS,
authentication); requests go through ``ksched.controllers.client``'s
keep-alive connections. Bodies stay plain JSON because the client's typed
models cost far more than a scheduling cycle per pod, and ksched parses pods
into its own models anyway.
Requests other than watches pass a token bucket of ``clientConnection.qps``
and ``burst``, as client-go's rate limiter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from ksched.controllers.client import ApiError as RestApiError
from ksched.controllers.client import ClientConfigError
from ksched.controllers.client import KubeClient as RestClient

__all__ = ["ApiError", "KubeClient", "RateLimiter"]

# client-go rest.Config defaults when QPS/Burst are left at zero.
DEFAULT_QPS: Final = 5.0
DEFAULT_BURST: Final = 10
REQUEST_TIMEOUT: Final = 30.0


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


class KubeClient:
    """One API server transport shared by informers, binder, recorder and elector."""

    def __init__(self, api_client: Any, qps: float = 50.0, burst: int = 100) -> None:
        self.api = api_client
        # Plain keep-alive http.client connections, one per thread: urllib3's
        # pool cost about four times the CPU per request (controllers.client).
        self.rest = RestClient(
            configuration=api_client.configuration, user_agent=str(api_client.user_agent)
        )
        self.base_url = self.rest.host
        self.user_agent = self.rest.user_agent
        self.limiter = RateLimiter(qps, burst)

    @classmethod
    def connect(
        cls,
        kubeconfig: str | None,
        *,
        qps: float = 50.0,
        burst: int = 100,
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
        try:
            return cls(k8s_client.ApiClient(configuration), qps, burst)
        except ClientConfigError as exc:
            raise ApiError(0, "", str(exc)) from None

    def close(self) -> None:
        self.rest.close()

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
        with _as_api_error():
            return self.rest.request(
                method, path, query=query, body=body, content_type=content_type, timeout=timeout
            )

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

        ``holder`` receives the open stream, so another thread can ``close()``
        it to stop a blocked read. An ``ERROR`` event is raised as ``ApiError``.
        """
        with _as_api_error():
            stream = self.rest.watch_path(path, {**query, "watch": "true"}, read_timeout)
        if holder is not None:
            holder.append(stream)
        if opened is not None:
            opened.set()
        try:
            with _as_api_error(f"watch {path}: "):
                yield from stream
        finally:
            stream.close()


@contextmanager
def _as_api_error(prefix: str = "") -> Iterator[None]:
    """The transport's refusals as ``ApiError``; a lost connection is status 0."""
    try:
        yield
    except RestApiError as err:
        raise ApiError(err.status, err.reason, err.message) from None
    except ConnectionError as exc:
        raise ApiError(0, "", f"{prefix}{exc}") from None
