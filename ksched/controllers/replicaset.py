"""The ReplicaSet controller: keep ``spec.replicas`` active pods, report their readiness.

As upstream's ``pkg/controller/replicaset``: pods are the ones whose
controller reference is the ReplicaSet; creates and deletes are counted as
expectations so a sync never acts twice on a stale pod count; scale-down
removes unscheduled, pending and unready pods first, newest first.
"""

from __future__ import annotations

import time
from typing import Final

from ksched.controllers.client import REPLICASETS, KubeClient, Obj
from ksched.controllers.controller import Controller
from ksched.controllers.index import Expectations, OwnerIndex
from ksched.controllers.informer import Informer, key_of
from ksched.controllers.objects import controller_of, is_active, is_available, is_ready, matches
from ksched.controllers.pod_control import PodControl, deletion_rank

__all__ = ["NAME", "ReplicaSetController"]

NAME: Final = "replicaset"


class ReplicaSetController(Controller):
    name = NAME

    def __init__(
        self,
        client: KubeClient,
        replicasets: Informer,
        pods: Informer,
        pod_index: OwnerIndex,
        *,
        workers: int = 2,
    ) -> None:
        super().__init__(client, [replicasets, pods], workers)
        self.replicasets = replicasets
        self.pods = pods
        self.index = pod_index
        self.expectations = Expectations()
        self.control = PodControl(client, self.expectations)
        replicasets.add_handler(self._on_replicaset)
        pods.add_handler(self._on_pod)

    def _on_replicaset(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        if event == "DELETED":
            self.expectations.forget(key_of(obj))
        self.queue.add(key_of(obj))

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        key = f"{obj['metadata'].get('namespace', 'default')}/{ref['name']}"
        self.expectations.observe_event(key, event, old, new)
        self.queue.add(key)

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
