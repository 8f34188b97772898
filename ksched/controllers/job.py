"""The Job controller: run pods until ``completions`` succeed, ``parallelism`` at a time.

As upstream's ``pkg/controller/job`` for NonIndexed jobs: the active count
is ``min(parallelism, completions - succeeded)``; more than
``backoffLimit`` failed pods fail the Job (``BackoffLimitExceeded``) and
remove its active pods; with ``completions`` unset (a work queue) the Job
completes once a pod succeeded and none is active. Counts are taken from
the pods and never go down, so a finished pod deleted later still counts
(upstream keeps them exact with a tracking finalizer instead).
"""

from __future__ import annotations

from typing import Final

from ksched.controllers.client import JOBS, Obj
from ksched.controllers.informer import Informer
from ksched.controllers.objects import is_active, is_ready, now_rfc3339
from ksched.controllers.pod_control import deletion_rank
from ksched.controllers.pod_owner import PodOwnerController

__all__ = ["NAME", "JobController"]

NAME: Final = "job"
DEFAULT_BACKOFF_LIMIT: Final = 6


def _finished(job: Obj) -> str | None:
    """``Complete`` or ``Failed`` when the Job has that condition set to True."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return str(cond["type"])
    return None


class JobController(PodOwnerController):
    name = NAME
    owner_kind = "Job"

    @property
    def jobs(self) -> Informer:
        return self.owners

    def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        meta, spec = job["metadata"], job.get("spec") or {}
        old = job.get("status") or {}
        pods = self.index.owned(str(meta["uid"]))
        active = [p for p in pods if is_active(p)]
        phases = [(p.get("status") or {}).get("phase") for p in pods]
        succeeded = max(phases.count("Succeeded"), int(old.get("succeeded") or 0))
        failed = max(phases.count("Failed"), int(old.get("failed") or 0))
        finished = _finished(job)
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        backoff_limit = int(spec.get("backoffLimit", DEFAULT_BACKOFF_LIMIT))
        condition: tuple[str, str, str] | None = None
        if finished is None:
            if failed > backoff_limit:
                condition = (
                    "Failed",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                )
            elif (completions is not None and succeeded >= int(completions)) or (
                completions is None and succeeded > 0 and not active
            ):
                condition = (
                    "Complete",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                )
        if (finished or condition) and active:
            self.control.delete(key, active)
            active = []
        elif finished is None and condition is None and not spec.get("suspend"):
            want = parallelism
            if completions is not None:
                want = min(parallelism, int(completions) - succeeded)
            elif succeeded > 0:
                want = 0  # a work queue: once one pod succeeded, start no more
            if self.expectations.satisfied(key):
                diff = len(active) - want
                labels = {
                    "batch.kubernetes.io/controller-uid": str(meta["uid"]),
                    "batch.kubernetes.io/job-name": str(meta["name"]),
                    "controller-uid": str(meta["uid"]),
                    "job-name": str(meta["name"]),
                }
                if diff < 0:
                    self.control.create(key, job, spec.get("template") or {}, labels, -diff)
                elif diff > 0:
                    self.control.delete(key, sorted(active, key=deletion_rank)[:diff])
        now = now_rfc3339()
        status: Obj = {
            "active": len(active),
            "succeeded": succeeded,
            "failed": failed,
            "ready": sum(1 for p in active if is_ready(p)),
        }
        if not old.get("startTime"):
            status["startTime"] = now
        if condition is not None:
            kind, reason, message = condition
            # Upstream (1.31+) first sets the interim condition, and the API
            # server refuses Complete/Failed without it: set both at once.
            interim = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
            have = {c.get("type") for c in old.get("conditions") or []}
            added = [
                {
                    "type": t,
                    "status": "True",
                    "reason": reason,
                    "message": message,
                    "lastProbeTime": now,
                    "lastTransitionTime": now,
                }
                for t in (interim, kind)
                if t not in have
            ]
            status["conditions"] = [*(old.get("conditions") or []), *added]
            if kind == "Complete":
                status["completionTime"] = now
        if any(old.get(k, 0) != v for k, v in status.items()):
            self.client.patch(
                JOBS, meta["name"], {"status": status}, meta.get("namespace"), "status"
            )
