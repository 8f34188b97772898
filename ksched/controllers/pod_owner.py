"""The wiring every controller that owns pods directly shares (ReplicaSet, Job).

An owner's key is queued when the owner changes and when one of the pods
whose controller reference names its kind changes; pod events also settle
the owner's create/delete expectations, as upstream's controllers do.
"""

from __future__ import annotations

from typing import ClassVar

from ksched.controllers.client import KubeClient, Obj
from ksched.controllers.controller import Controller
from ksched.controllers.index import Expectations, OwnerIndex
from ksched.controllers.informer import Informer, key_of
from ksched.controllers.objects import controller_of
from ksched.controllers.pod_control import PodControl

__all__ = ["PodOwnerController"]


class PodOwnerController(Controller):
    """Base of controllers whose objects (of ``owner_kind``) own pods directly."""

    owner_kind: ClassVar[str]

    def __init__(
        self,
        client: KubeClient,
        owners: Informer,
        pods: Informer,
        pod_index: OwnerIndex,
        *,
        workers: int = 2,
    ) -> None:
        super().__init__(client, [owners, pods], workers)
        self.owners = owners
        self.pods = pods
        self.index = pod_index
        self.expectations = Expectations()
        self.control = PodControl(client, self.expectations)
        owners.add_handler(self._on_owner)
        pods.add_handler(self._on_pod)

    def _on_owner(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        if event == "DELETED":
            self.expectations.forget(key_of(obj))
        self.queue.add(key_of(obj))

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        obj = new if new is not None else old
        assert obj is not None
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != self.owner_kind:
            return
        key = f"{obj['metadata'].get('namespace', 'default')}/{ref['name']}"
        self.expectations.observe_event(key, event, old, new)
        self.queue.add(key)
