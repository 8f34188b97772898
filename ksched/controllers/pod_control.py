"""Creating and deleting an owner's pods, with expectations (upstream ``controller.PodControl``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ksched.controllers.client import PODS, ApiError, KubeClient, Obj
from ksched.controllers.index import Expectations
from ksched.controllers.objects import is_ready, pod_from_template

__all__ = ["PodControl", "deletion_rank"]

_PHASE_RANK = {"Pending": 1, "Unknown": 2, "Running": 3}


def deletion_rank(pod: Obj) -> tuple[int, int, int, str]:
    """Sort key, lowest deleted first: unscheduled, then pending, then not ready, then newest.

    The order of upstream's ``ActivePodsWithRanks`` (restart counts left out).
    """
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    created = str(pod["metadata"].get("creationTimestamp") or "")
    # Newer first: invert the timestamp's characters for an ascending sort.
    newest_first = "".join(chr(0x10FFFF - ord(c)) for c in created)
    return (
        1 if spec.get("nodeName") else 0,
        _PHASE_RANK.get(str(status.get("phase")), 0),
        1 if is_ready(pod) else 0,
        newest_first,
    )


class PodControl:
    """Writes pods for owners; each write is expected back through the pod informer."""

    def __init__(self, client: KubeClient, expectations: Expectations) -> None:
        self.client = client
        self.expectations = expectations

    def create(
        self, key: str, owner: Obj, template: Obj, labels: Mapping[str, str], count: int
    ) -> None:
        """Create ``count`` pods; a failed create is un-expected and raised after the rest."""
        if count <= 0:
            return
        self.expectations.expect(key, adds=count)
        namespace = owner["metadata"].get("namespace") or "default"
        error: ApiError | None = None
        for _ in range(count):
            try:
                self.client.create(PODS, pod_from_template(template, owner, labels), namespace)
            except ApiError as err:
                self.expectations.observe(key, adds=1)
                error = err
        if error is not None:
            raise error

    def delete(self, key: str, pods: Sequence[Obj]) -> None:
        """Delete ``pods``; one already gone counts as deleted."""
        if not pods:
            return
        self.expectations.expect(key, deletes=len(pods))
        error: ApiError | None = None
        for pod in pods:
            meta = pod["metadata"]
            try:
                self.client.delete(PODS, meta["name"], meta.get("namespace"), uid=meta.get("uid"))
            except ApiError as err:
                self.expectations.observe(key, deletes=1)
                if not err.not_found and not err.conflict:
                    error = err
        if error is not None:
            raise error
