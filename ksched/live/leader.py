"""Leader election on a ``coordination.k8s.io/v1`` Lease (client-go ``leaderelection``).

Candidates try every ``retry_period`` to take a Lease whose holder has not
renewed it for ``lease_duration``, judged by when *this* candidate last saw
the record change (no clock agreement between machines is assumed).  The
leader renews every ``retry_period``; if no renewal succeeds within
``renew_deadline`` it stops leading.  On a clean stop the leader releases
the Lease (empty holder, 1 s duration), so a standby takes over at its next
retry instead of waiting out the lease.  Writes carry the resourceVersion
read, so two candidates can never both win the same round.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ksched.api import format_time
from ksched.live.kube import ApiError, KubeClient

__all__ = ["LeaderElector", "LeaseSettings"]

log = logging.getLogger(__name__)

# client-go wait.JitterUntil factor for the acquire loop.
JITTER: Final = 1.2


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    """kube-scheduler's defaults: 15 s lease, 10 s renew deadline, 2 s retry."""

    name: str
    namespace: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if self.lease_duration <= self.renew_deadline:
            raise ValueError(
                f"lease duration ({self.lease_duration} s) must be greater than the "
                f"renew deadline ({self.renew_deadline} s)"
            )
        if self.renew_deadline <= JITTER * self.retry_period:
            raise ValueError(
                f"renew deadline ({self.renew_deadline} s) must be greater than "
                f"{JITTER} x retry period ({self.retry_period} s)"
            )


class LeaderElector:
    """Campaigns for ``settings``' Lease as ``identity``; calls back on gaining and losing it."""

    def __init__(
        self,
        kube: KubeClient,
        settings: LeaseSettings,
        identity: str,
        *,
        on_started: Callable[[], None],
        on_stopped: Callable[[], None],
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.identity = identity
        self._on_started = on_started
        self._on_stopped = on_stopped
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.leading = threading.Event()
        self.lost = threading.Event()
        self._observed: tuple[str, str, str] | None = None
        self._observed_at = 0.0
        self._lease: dict[str, Any] | None = None
        self.last_renewal = 0.0

    @property
    def path(self) -> str:
        s = self.settings
        return f"/apis/coordination.k8s.io/v1/namespaces/{s.namespace}/leases/{s.name}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        """Stop campaigning; a leader releases the lease first (``ReleaseOnCancel``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.retry_period + 5)
        if release and self.leading.is_set():
            self._release()
            self.leading.clear()

    def healthy(self) -> bool:
        """False once a leader has failed to renew for longer than the lease (client-go healthz)."""
        if not self.leading.is_set():
            return True
        return time.monotonic() - self.last_renewal <= self.settings.lease_duration + 20

    def _run(self) -> None:
        s = self.settings
        while not self._stop.is_set():
            if self._try_acquire_or_renew():
                break
            self._stop.wait(s.retry_period * (1 + random.random() * (JITTER - 1)))
        if self._stop.is_set():
            return
        log.info("%s acquired lease %s/%s", self.identity, s.namespace, s.name)
        self.leading.set()
        self._on_started()
        deadline = time.monotonic() + s.renew_deadline
        while not self._stop.wait(s.retry_period):
            if self._try_acquire_or_renew():
                deadline = time.monotonic() + s.renew_deadline
            elif time.monotonic() >= deadline:
                log.error("%s failed to renew lease %s/%s", self.identity, s.namespace, s.name)
                self.leading.clear()
                self.lost.set()
                self._on_stopped()
                return

    def _record(self) -> tuple[str, str, str]:
        spec = (self._lease or {}).get("spec") or {}
        return (
            str(spec.get("holderIdentity") or ""),
            str(spec.get("renewTime") or ""),
            str(spec.get("leaseTransitions") or 0),
        )

    def _try_acquire_or_renew(self) -> bool:
        s = self.settings
        now = format_time(datetime.now(UTC), micro=True)
        mine = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": round(s.lease_duration),
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": 0,
        }
        try:
            self._lease = self.kube.request("GET", self.path, timeout=s.renew_deadline)
        except ApiError as err:
            if not err.not_found:
                log.warning("get lease %s: %s", self.path, err)
                return False
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": s.name, "namespace": s.namespace},
                "spec": mine,
            }
            try:
                self._lease = self.kube.request(
                    "POST",
                    f"/apis/coordination.k8s.io/v1/namespaces/{s.namespace}/leases",
                    body=body,
                    timeout=s.renew_deadline,
                )
            except ApiError as create_err:
                log.info("create lease %s: %s", self.path, create_err)
                return False
            self._observe()
            self.last_renewal = time.monotonic()
            return True
        record = self._record()
        if record != self._observed:
            self._observe()
        holder = record[0]
        spec = (self._lease or {}).get("spec") or {}
        duration = float(spec.get("leaseDurationSeconds") or s.lease_duration)
        if holder and holder != self.identity and time.monotonic() < self._observed_at + duration:
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            mine["acquireTime"] = spec.get("acquireTime") or now
            mine["leaseTransitions"] = transitions
        else:
            mine["leaseTransitions"] = transitions + 1
        return self._write(mine)

    def _write(self, spec: dict[str, Any]) -> bool:
        lease = dict(self._lease or {})
        lease["spec"] = {**(lease.get("spec") or {}), **spec}
        try:
            self._lease = self.kube.request(
                "PUT", self.path, body=lease, timeout=self.settings.renew_deadline
            )
        except ApiError as err:
            log.info("update lease %s: %s", self.path, err)
            return False
        self._observe()
        self.last_renewal = time.monotonic()
        return True

    def _observe(self) -> None:
        self._observed = self._record()
        self._observed_at = time.monotonic()

    def _release(self) -> None:
        if self._lease is None or self._record()[0] != self.identity:
            return
        now = format_time(datetime.now(UTC), micro=True)
        spec = {
            "holderIdentity": None,
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
        }
        if self._write(spec):
            log.info("%s released lease %s", self.identity, self.path)
