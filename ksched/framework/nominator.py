"""Pods nominated to a node by preemption, so later cycles keep room for them.

Upstream ``nominator`` (pkg/scheduler/backend/queue/nominator.go): a pod that
preempted victims waits for them to leave; until it binds, Filter treats the
node as if that pod were already there, so lower-priority pods do not take the
space it freed.
"""

from __future__ import annotations

from ksched.framework.pod_info import PodInfo

__all__ = ["Nominator"]


class Nominator:
    """Nominated node per pod, and pods per node in nomination order."""

    __slots__ = ("_by_node", "_node_of")

    def __init__(self) -> None:
        self._node_of: dict[str, str] = {}
        self._by_node: dict[str, list[PodInfo]] = {}

    def add_nominated_pod(self, pod: PodInfo, node_name: str | None = None) -> None:
        """Nominate ``pod`` to ``node_name``, replacing any earlier nomination; ``""`` clears.

        ``None`` is how the queue re-adds a pod (upstream ``ModeNoop``): it keeps
        ``status.nominatedNodeName``, else the nomination already held here.
        Upstream keeps only the former, trusting the status write to have
        arrived; a simulation that never echoes it would otherwise lose the
        room preemption made.  A pod already bound is never nominated.
        """
        known = self._node_of.get(pod.uid)
        if node_name is None:
            node_name = _status_nominated_node(pod) or known or ""
        if known is None and not node_name:
            return  # the common case for a queue re-add: nothing to do
        self.delete_nominated_pod_if_exists(pod)
        if not node_name or pod.node_name:
            return
        self._node_of[pod.uid] = node_name
        self._by_node.setdefault(node_name, []).append(pod)

    def update_nominated_pod(self, old: PodInfo, new: PodInfo) -> None:
        """Point the nomination at the new pod object (upstream ``updateNominatedPodUnlocked``).

        When neither version carries ``nominatedNodeName`` the node reserved in
        memory is kept (its status write may still be on the way); otherwise
        the new status decides, so clearing it through the API clears it here.
        """
        if _status_nominated_node(old) or _status_nominated_node(new):
            node = _status_nominated_node(new)
        else:
            node = self._node_of.get(old.uid, "")
        self.delete_nominated_pod_if_exists(old)
        self.add_nominated_pod(new, node)

    def delete_nominated_pod_if_exists(self, pod: PodInfo) -> None:
        node = self._node_of.pop(pod.uid, None)
        if node is None:
            return
        remaining = [p for p in self._by_node[node] if p.uid != pod.uid]
        if remaining:
            self._by_node[node] = remaining
        else:
            del self._by_node[node]

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return list(self._by_node.get(node_name, ()))

    def nominated_node(self, pod: PodInfo) -> str | None:
        return self._node_of.get(pod.uid)

    def nodes_with_nominated_pods(self) -> list[str]:
        return list(self._by_node)

    def __len__(self) -> int:
        return len(self._node_of)


def _status_nominated_node(pod: PodInfo) -> str:
    return pod.pod.status.nominated_node_name or ""
