"""The ReplicaSet controller: keep ``spec.replicas`` active pods, report their readiness.

As upstream's ``pkg/controller/replicaset``: pods are the ones whose
controller reference is the ReplicaSet; creates and deletes are counted as
expectations so a sync never acts twice on a stale pod count; scale-down
removes unscheduled, pending and unready pods first, newest first.
"""

from __future__ import annotations

import time
from typing import Final

from ksched.controllers.client import REPLICASETS, Obj
from ksched.controllers.informer import Informer, key_of
from ksched.controllers.objects import is_active, is_available, is_ready, matches
from ksched.controllers.pod_control import deletion_rank
from ksched.controllers.pod_owner import PodOwnerController

__all__ = ["NAME", "ReplicaSetController"]

NAME: Final = "replicaset"


class ReplicaSetController(PodOwnerController):
    name = NAME
    owner_kind = "ReplicaSet"

    @property
    def replicasets(self) -> Informer:
        return self.owners

    def sync(self, key: str) -> None:
        rs = self.replicasets.get(key)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        spec = rs.get("spec") or {}
        meta = rs["metadata"]
        owned = self.index.owned(str(meta["uid"]))
        active = [p for p in owned if is_active(p)]
        want = int(spec.get("replicas", 1))
        if self.expectations.satisfied(key):
            diff = len(active) - want
            template = spec.get("template") or {}
            if diff < 0:
                self.control.create(key, rs, template, {}, -diff)
            elif diff > 0:
                self.control.delete(key, sorted(active, key=deletion_rank)[:diff])
        self._update_status(rs, active)

    def _update_status(self, rs: Obj, active: list[Obj]) -> None:
        spec, meta = rs.get("spec") or {}, rs["metadata"]
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        ready = sum(1 for p in active if is_ready(p))
        available = sum(1 for p in active if is_available(p, min_ready, now))
        status: Obj = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1 for p in active if matches({"matchLabels": labels}, p["metadata"].get("labels"))
            ),
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": int(meta.get("generation") or 0),
        }
        current = rs.get("status") or {}
        if any(current.get(k, 0) != v for k, v in status.items()):
            self.client.patch(
                REPLICASETS, meta["name"], {"status": status}, meta.get("namespace"), "status"
            )
        if min_ready and ready != available:
            self.queue.add_after(key_of(rs), float(min_ready))
