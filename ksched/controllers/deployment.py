"""The Deployment controller: one ReplicaSet per pod template, rolling updates between them.

As upstream's ``pkg/controller/deployment``: the new ReplicaSet is the one
whose template equals the Deployment's (ignoring ``pod-template-hash``);
RollingUpdate scales it up while the total stays within ``replicas +
maxSurge`` and scales old ones down while at least ``replicas -
maxUnavailable`` pods stay available (``rolling.go``: unhealthy old
replicas go first); Recreate scales old ones to zero and waits for their
pods to go before scaling the new one up. The status carries what
``kubectl rollout status`` reads: ``observedGeneration``,
``updatedReplicas``, ``availableReplicas`` and the ``Available`` and
``Progressing`` conditions.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Final

from ksched.controllers.client import DEPLOYMENTS, REPLICASETS, ApiError, KubeClient, Obj
from ksched.controllers.controller import Controller
from ksched.controllers.index import OwnerIndex
from ksched.controllers.informer import Informer, key_of
from ksched.controllers.objects import (
    POD_TEMPLATE_HASH,
    controller_of,
    now_rfc3339,
    owner_reference,
    parse_time,
    template_hash,
)

__all__ = ["NAME", "DeploymentController", "resolve_fenceposts"]

NAME: Final = "deployment"
REVISION: Final = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS: Final = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS: Final = "deployment.kubernetes.io/max-replicas"


def _int_or_percent(value: Any, total: int, round_up: bool, field: str) -> int:
    if value is None:
        value = "25%"
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%") or not text[:-1].isdigit():
        raise ValueError(f"{field}: {text!r} is neither an integer nor a percentage")
    amount = int(text[:-1]) * total / 100
    return math.ceil(amount) if round_up else math.floor(amount)


def resolve_fenceposts(strategy: Obj, replicas: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as upstream ``ResolveFenceposts``: never both zero."""
    rolling = strategy.get("rollingUpdate") or {}
    surge = _int_or_percent(rolling.get("maxSurge"), replicas, True, "maxSurge")
    unavailable = _int_or_percent(rolling.get("maxUnavailable"), replicas, False, "maxUnavailable")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _template_without_hash(template: Obj) -> Obj:
    out = copy.deepcopy(template)
    labels = (out.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
    return out


def _normalised(template: Obj) -> Obj:
    """A template as compared: what the server defaulted on one side may be absent on the other."""
    out = _template_without_hash(template)
    meta = out.get("metadata") or {}
    out["metadata"] = {k: v for k, v in meta.items() if k in ("labels", "annotations") and v}
    return out


def _spec_replicas(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas", 1))


def _status(rs: Obj, field: str) -> int:
    return int((rs.get("status") or {}).get(field) or 0)


def _revision(obj: Obj) -> int:
    text = (obj["metadata"].get("annotations") or {}).get(REVISION, "0")
    return int(text) if str(text).isdigit() else 0


class DeploymentController(Controller):
    name = NAME

    def __init__(
        self,
        client: KubeClient,
        deployments: Informer,
        replicasets: Informer,
        rs_index: OwnerIndex,
        *,
        workers: int = 2,
    ) -> None:
        super().__init__(client, [deployments, replicasets], workers)
        self.deployments = deployments
        self.replicasets = replicasets
        self.index = rs_index
        deployments.add_handler(self._on_deployment)
        replicasets.add_handler(self._on_replicaset)

    def _on_deployment(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        self.queue.add(key_of(obj))

    def _on_replicaset(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        ref = controller_of(obj)
        if ref is not None and ref.get("kind") == "Deployment":
            self.queue.add(f"{obj['metadata'].get('namespace', 'default')}/{ref['name']}")

    # -- sync ----------------------------------------------------------------------------
    def sync(self, key: str) -> None:
        d = self.deployments.get(key)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        spec = d.get("spec") or {}
        rss = sorted(
            self.index.owned(str(d["metadata"]["uid"])),
            key=lambda r: (str(r["metadata"].get("creationTimestamp", "")), r["metadata"]["name"]),
        )
        want = _normalised(spec.get("template") or {})
        new = next((r for r in rss if _normalised(r["spec"]["template"]) == want), None)
        olds = [r for r in rss if r is not new]
        replicas = int(spec.get("replicas", 1))
        strategy = spec.get("strategy") or {}
        surge, unavailable = (
            resolve_fenceposts(strategy, replicas)
            if strategy.get("type", "RollingUpdate") == "RollingUpdate"
            else (0, replicas)
        )
        if spec.get("paused"):
            self._sync_revision(d, new)
            self._update_status(d, new, rss, unavailable)
            return
        if new is None:
            new = self._create_new(d, rss, replicas if not any(map(_spec_replicas, olds)) else 0)
            rss = [*rss, new]
        elif _revision(new) <= max(map(_revision, olds), default=0):
            new = self._scale(new, _spec_replicas(new), d, surge, revision=self._next_rev(olds))
        if strategy.get("type", "RollingUpdate") == "Recreate":
            self._recreate(d, new, olds, replicas)
        else:
            self._rolling(d, new, olds, replicas, surge, unavailable)
        self._cleanup(d, olds)
        self._sync_revision(d, new)
        self._update_status(d, new, rss, unavailable)

    def _sync_revision(self, d: Obj, new: Obj | None) -> None:
        """The Deployment carries its new ReplicaSet's revision, as upstream's
        ``SetDeploymentRevision``: ``kubectl rollout undo`` patches that annotation."""
        if new is None:
            return
        revision = (new["metadata"].get("annotations") or {}).get(REVISION)
        meta = d["metadata"]
        if revision and (meta.get("annotations") or {}).get(REVISION) != revision:
            patch = {"metadata": {"annotations": {REVISION: revision}}}
            self.client.patch(DEPLOYMENTS, meta["name"], patch, meta.get("namespace"))

    def _next_rev(self, olds: list[Obj]) -> int:
        return max(map(_revision, olds), default=0) + 1

    def _create_new(self, d: Obj, rss: list[Obj], replicas: int) -> Obj:
        meta, spec = d["metadata"], d["spec"]
        collisions = int((d.get("status") or {}).get("collisionCount") or 0)
        template = copy.deepcopy(spec["template"])
        digest = template_hash(_normalised(template), collisions)
        tmeta = template.setdefault("metadata", {})
        tmeta.setdefault("labels", {})[POD_TEMPLATE_HASH] = digest
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = digest
        surge, _ = (
            resolve_fenceposts(spec.get("strategy") or {}, int(spec.get("replicas", 1)))
            if (spec.get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
            else (0, 0)
        )
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{digest}",
                "namespace": meta.get("namespace", "default"),
                "labels": dict(tmeta["labels"]),
                "annotations": {
                    REVISION: str(self._next_rev(rss)),
                    DESIRED_REPLICAS: str(int(spec.get("replicas", 1))),
                    MAX_REPLICAS: str(int(spec.get("replicas", 1)) + surge),
                },
                "ownerReferences": [owner_reference(d)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": selector,
                "template": template,
            },
        }
        try:
            return self.client.create(REPLICASETS, rs, meta.get("namespace"))
        except ApiError as err:
            if err.status != 409:
                raise
        # A ReplicaSet of that name exists but is not ours or holds another template:
        # count a collision so the next hash differs (upstream ``collisionCount``).
        self.client.patch(
            DEPLOYMENTS,
            meta["name"],
            {"status": {"collisionCount": collisions + 1}},
            meta.get("namespace"),
            "status",
        )
        raise ApiError(409, "AlreadyExists", f"ReplicaSet {rs['metadata']['name']} exists")

    def _scale(
        self, rs: Obj, replicas: int, d: Obj, surge: int, revision: int | None = None
    ) -> Obj:
        want_replicas = int(d["spec"].get("replicas", 1))
        annotations = {
            DESIRED_REPLICAS: str(want_replicas),
            MAX_REPLICAS: str(want_replicas + surge),
        }
        if revision is not None:
            annotations[REVISION] = str(revision)
        current = rs["metadata"].get("annotations") or {}
        if _spec_replicas(rs) == replicas and all(
            current.get(k) == v for k, v in annotations.items()
        ):
            return rs
        meta = rs["metadata"]
        return self.client.patch(
            REPLICASETS,
            meta["name"],
            {"metadata": {"annotations": annotations}, "spec": {"replicas": replicas}},
            meta.get("namespace"),
        )

    def _rolling(
        self, d: Obj, new: Obj, olds: list[Obj], replicas: int, surge: int, unavailable: int
    ) -> None:
        # Scale up (upstream NewRSNewReplicas): the total stays within replicas + maxSurge.
        if _spec_replicas(new) > replicas or not any(map(_spec_replicas, olds)):
            new = self._scale(new, replicas, d, surge)
        elif _spec_replicas(new) < replicas:
            total = _spec_replicas(new) + sum(map(_spec_replicas, olds))
            up = min(replicas + surge - total, replicas - _spec_replicas(new))
            if up > 0:
                new = self._scale(new, _spec_replicas(new) + up, d, surge)
        # Scale down (upstream reconcileOldReplicaSets).
        live = [r for r in olds if _spec_replicas(r) > 0]
        if not live:
            return
        min_available = replicas - unavailable
        new_unavailable = _spec_replicas(new) - _status(new, "availableReplicas")
        total = _spec_replicas(new) + sum(map(_spec_replicas, live))
        budget = total - min_available - new_unavailable
        if budget <= 0:
            return
        cleaned = 0
        for rs in live:  # unhealthy old replicas first, oldest ReplicaSet first
            if cleaned >= budget:
                break
            unhealthy = _spec_replicas(rs) - _status(rs, "availableReplicas")
            down = min(unhealthy, budget - cleaned)
            if down > 0:
                rs_scaled = self._scale(rs, _spec_replicas(rs) - down, d, surge)
                live[live.index(rs)] = rs_scaled
                cleaned += down
        available = _status(new, "availableReplicas") + sum(
            _status(r, "availableReplicas") for r in live
        )
        budget = available - min_available - cleaned
        for rs in live:
            if budget <= 0:
                break
            down = min(_spec_replicas(rs), budget)
            if down > 0:
                self._scale(rs, _spec_replicas(rs) - down, d, surge)
                budget -= down

    def _recreate(self, d: Obj, new: Obj, olds: list[Obj], replicas: int) -> None:
        for rs in olds:
            if _spec_replicas(rs):
                self._scale(rs, 0, d, 0)
        if any(_spec_replicas(r) or _status(r, "replicas") for r in olds):
            return  # old pods still running: wait for their ReplicaSets to report none
        self._scale(new, replicas, d, 0)

    def _cleanup(self, d: Obj, olds: list[Obj]) -> None:
        """Delete old empty ReplicaSets beyond ``revisionHistoryLimit`` (default 10)."""
        limit = int((d.get("spec") or {}).get("revisionHistoryLimit", 10))
        empty = [
            r
            for r in olds
            if not _spec_replicas(r) and not _status(r, "replicas")
            and not r["metadata"].get("deletionTimestamp")
        ]  # fmt: skip
        for rs in sorted(empty, key=_revision)[: max(len(empty) - limit, 0)]:
            meta = rs["metadata"]
            try:
                self.client.delete(REPLICASETS, meta["name"], meta.get("namespace"))
            except ApiError as err:
                if not err.not_found:
                    raise

    def _progressing(
        self, d: Obj, status: Obj, old: Obj, complete: bool, condition: Obj | None
    ) -> str:
        """The Progressing reason, as upstream ``progress.go``.

        Complete: ``NewReplicaSetAvailable``. A count moved since the last
        status: ``ReplicaSetUpdated``. Neither for ``progressDeadlineSeconds``
        (default 600) since the condition last changed: ``ProgressDeadlineExceeded``
        (``kubectl rollout status`` then fails). The key is requeued for the deadline.
        """
        if complete:
            return "NewReplicaSetAvailable"
        moved = any(
            old.get(k, 0) != status[k]
            for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        )
        deadline = (d.get("spec") or {}).get("progressDeadlineSeconds", 600)
        if moved or condition is None or deadline is None:
            if deadline is not None:
                self.queue.add_after(key_of(d), float(deadline) + 0.1)
            return "ReplicaSetUpdated"
        if condition.get("reason") == "ProgressDeadlineExceeded":
            return "ProgressDeadlineExceeded"
        since = parse_time(condition.get("lastUpdateTime")) or time.time()
        left = since + float(deadline) - time.time()
        if left <= 0:
            return "ProgressDeadlineExceeded"
        self.queue.add_after(key_of(d), left + 0.1)
        return "ReplicaSetUpdated"

    def _update_status(self, d: Obj, new: Obj | None, rss: list[Obj], unavailable: int) -> None:
        spec, meta = d.get("spec") or {}, d["metadata"]
        replicas = int(spec.get("replicas", 1))
        total = sum(_status(r, "replicas") for r in rss)
        updated = _status(new, "replicas") if new is not None else 0
        available = sum(_status(r, "availableReplicas") for r in rss)
        status: Obj = {
            "observedGeneration": int(meta.get("generation") or 0),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": sum(_status(r, "readyReplicas") for r in rss),
            "availableReplicas": available,
            "unavailableReplicas": max(replicas - available, 0),
        }
        old = d.get("status") or {}
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        complete = updated == replicas and total == updated and available >= replicas
        name = new["metadata"]["name"] if new is not None else ""
        conditions = {c.get("type"): c for c in old.get("conditions") or []}
        progressing = self._progressing(d, status, old, complete, conditions.get("Progressing"))
        minimum = available >= replicas - unavailable
        wanted = [
            (
                "Available",
                "True" if minimum else "False",
                "MinimumReplicasAvailable" if minimum else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if minimum
                else "Deployment does not have minimum availability.",
            ),
            (
                "Progressing",
                "False" if progressing == "ProgressDeadlineExceeded" else "True",
                progressing,
                {
                    "NewReplicaSetAvailable": f'ReplicaSet "{name}" has successfully progressed.',
                    "ReplicaSetUpdated": f'ReplicaSet "{name}" is progressing.',
                    "ProgressDeadlineExceeded": f'ReplicaSet "{name}" has timed out progressing.',
                }[progressing],
            ),
        ]
        now = now_rfc3339()
        out = []
        changed_counts = any(old.get(k, 0) != v for k, v in status.items())
        changed = changed_counts
        for kind, value, reason, message in wanted:
            before = conditions.get(kind) or {}
            same = before.get("status") == value and before.get("reason") == reason
            # Progress (a changed count) renews the Progressing condition's update time.
            same = same and not (kind == "Progressing" and changed_counts)
            changed = changed or not same
            out.append(
                {
                    "type": kind,
                    "status": value,
                    "reason": reason,
                    "message": message,
                    "lastUpdateTime": before.get("lastUpdateTime", now) if same else now,
                    "lastTransitionTime": before.get("lastTransitionTime", now)
                    if before.get("status") == value
                    else now,
                }
            )
        if not changed:
            return
        status["conditions"] = out
        self.client.patch(
            DEPLOYMENTS, meta["name"], {"status": status}, meta.get("namespace"), "status"
        )
