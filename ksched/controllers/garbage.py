"""A garbage collector for the dependents the controllers create.

kube-controller-manager's garbage collector deletes an object whose owner
is gone (background deletion, ``kubectl delete``'s default) and finishes a
foreground deletion (the owner carries the ``foregroundDeletion`` finalizer
until its dependents are gone). This one does both for the owners these
controllers manage: ReplicaSets and Jobs (their pods) and Deployments
(their ReplicaSets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ksched.controllers.client import ApiError, KubeClient, Obj, Resource
from ksched.controllers.controller import Controller
from ksched.controllers.index import OwnerIndex
from ksched.controllers.informer import Handler, Informer
from ksched.controllers.objects import controller_of

__all__ = ["FOREGROUND", "NAME", "GarbageCollector", "Owned"]

NAME: Final = "garbage-collector"
FOREGROUND: Final = "foregroundDeletion"


class Owned:
    """Owners of one kind and the index of their dependents of one resource."""

    def __init__(
        self, owners: Informer, dependents: Resource, index: OwnerIndex, dep_informer: Informer
    ) -> None:
        self.owners = owners
        self.dependents = dependents
        self.index = index
        self.dep_informer = dep_informer


class GarbageCollector(Controller):
    """Queue keys are ``Kind|namespace|uid`` of owners to check."""

    name = NAME

    def __init__(self, client: KubeClient, kinds: Mapping[str, Owned], *, workers: int = 1) -> None:
        informers = [o.owners for o in kinds.values()]
        super().__init__(client, informers, workers)
        self.kinds = dict(kinds)
        self._uids: dict[str, dict[str, Obj]] = {k: {} for k in kinds}
        for kind, owned in kinds.items():
            owned.owners.add_handler(self._owner_handler(kind))
            owned.dep_informer.add_handler(self._dependent_handler(kind))

    def _owner_handler(self, kind: str) -> Handler:
        uids = self._uids[kind]

        def handle(event: str, old: Obj | None, new: Obj | None) -> None:
            obj = new if new is not None else old
            assert obj is not None
            meta = obj["metadata"]
            uid = str(meta["uid"])
            if event == "DELETED":
                uids.pop(uid, None)
            else:
                uids[uid] = obj
            if event == "DELETED" or FOREGROUND in (meta.get("finalizers") or []):
                self.queue.add(f"{kind}|{meta.get('namespace', '')}|{uid}")

        return handle

    def _dependent_handler(self, kind: str) -> Handler:
        owned = self.kinds[kind]

        def handle(event: str, old: Obj | None, new: Obj | None) -> None:
            if new is None or not owned.owners.synced:
                return
            ref = controller_of(new)
            if (
                ref is not None
                and ref.get("kind") == kind
                and str(ref["uid"]) not in self._uids[kind]
            ):
                ns = new["metadata"].get("namespace", "")
                self.queue.add(f"{kind}|{ns}|{ref['uid']}")

        return handle

    def sync(self, key: str) -> None:
        kind, _namespace, uid = key.split("|", 2)
        owned = self.kinds[kind]
        owner = self._uids[kind].get(uid)
        if owner is not None and not owner["metadata"].get("deletionTimestamp"):
            return  # alive
        dependents = owned.index.owned(uid)
        for dep in dependents:
            meta = dep["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            try:
                self.client.delete(
                    owned.dependents,
                    meta["name"],
                    meta.get("namespace"),
                    uid=meta.get("uid"),
                    propagation="Background",
                )
            except ApiError as err:
                if not (err.not_found or err.conflict):
                    raise
        if owner is None:
            return
        finalizers = owner["metadata"].get("finalizers") or []
        if FOREGROUND in finalizers:
            if dependents:
                self.queue.add_after(key, 0.5)  # wait for them to go
                return
            meta = owner["metadata"]
            self.client.patch(
                owned.owners.resource,
                meta["name"],
                {"metadata": {"finalizers": [f for f in finalizers if f != FOREGROUND]}},
                meta.get("namespace"),
            )
