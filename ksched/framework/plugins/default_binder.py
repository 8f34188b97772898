"""DefaultBinder: bind through the cluster client (defaultbinder/default_binder.go)."""

from __future__ import annotations

from typing import Final

from ksched.framework.cycle_state import CycleState
from ksched.framework.handle import Handle
from ksched.framework.plugins import names
from ksched.framework.pod_info import PodInfo
from ksched.framework.status import Status

NAME: Final = names.DEFAULT_BINDER


class DefaultBinder:
    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    @property
    def name(self) -> str:
        return NAME

    def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        client = self.handle.client
        if client is None:
            return Status.from_error("no cluster client to bind with")
        try:
            client.bind(pod, node_name)
        except Exception as exc:
            return Status.from_error(exc)
        return None


def new(args: None, handle: Handle) -> DefaultBinder:
    return DefaultBinder(handle)
