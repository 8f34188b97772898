"""Filtering a node as if the pods nominated to it were already running.

Upstream ``RunFilterPluginsWithNominatedPods`` and ``RunPreFilterExtension{Add,Remove}Pod``
(pkg/scheduler/framework/runtime/framework.go).  Preemption's dry run needs
all three; the scheduling cycle needs the first for every node that has
nominated pods, so that a pod does not take the room a higher-priority
preemptor freed.  Pods are added to the real snapshot and always taken out
again before returning, so callers see the snapshot unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ksched.framework.cycle_state import CycleState
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo
from ksched.framework.status import Code, Status

if TYPE_CHECKING:
    from ksched.framework.runtime import Framework

__all__ = [
    "filter_with_nominated_pods",
    "run_pre_filter_extension_add_pod",
    "run_pre_filter_extension_remove_pod",
]


def run_pre_filter_extension_add_pod(
    framework: Framework, state: CycleState, pod: PodInfo, to_add: PodInfo, node: NodeInfo
) -> Status | None:
    """Tell every PreFilter plugin with extensions that ``to_add`` now runs on ``node``."""
    return _run_extension(framework, state, pod, to_add, node, "add_pod", "AddPod")


def run_pre_filter_extension_remove_pod(
    framework: Framework, state: CycleState, pod: PodInfo, to_remove: PodInfo, node: NodeInfo
) -> Status | None:
    """Tell every PreFilter plugin with extensions that ``to_remove`` left ``node``."""
    return _run_extension(framework, state, pod, to_remove, node, "remove_pod", "RemovePod")


def _run_extension(
    framework: Framework,
    state: CycleState,
    pod: PodInfo,
    other: PodInfo,
    node: NodeInfo,
    method: str,
    label: str,
) -> Status | None:
    # Plugins whose PreFilter returned Skip have no state to update (upstream skips them too).
    for plugin in framework.pre_filter:
        fn = getattr(plugin, method, None)
        if fn is None or plugin.name in state.skip_filter_plugins:
            continue
        try:
            status = fn(state, pod, other, node)
        except Exception as exc:
            status = Status.from_error(exc)
        if status is not None and status.code != Code.SUCCESS:
            msg = f"running {label} on PreFilter plugin {plugin.name!r}: {status.message}"
            return Status(Code.ERROR, (msg,), plugin.name, status.error)
    return None


def filter_with_nominated_pods(
    framework: Framework, state: CycleState, pod: PodInfo, node_info: NodeInfo
) -> Status | None:
    """Filter ``node_info`` with, then without, its nominated pods of priority >= ``pod``'s.

    The first pass treats those pods as running (resources, anti-affinity are
    then harder to satisfy); if it passes, a second pass without them guards
    filters that get harder when the pods are absent (pod affinity).  Without
    such pods a single pass runs.  Lower-priority nominated pods are ignored:
    the pod may take the room freed for them.
    """
    nominator = framework.handle.nominator
    nominated: list[PodInfo] = []
    if nominator is not None:
        snap = framework.snapshot
        nominated = [
            p
            for p in nominator.nominated_pods_for_node(node_info.name)
            # A nominated pod already assumed somewhere is counted there already.
            if p.priority >= pod.priority and p.uid != pod.uid and snap.node_of(p.key) is None
        ]
    if not nominated:
        return framework.run_filters_on_node(state, pod, node_info)
    status = _filter_with_added(framework, state, pod, node_info, nominated)
    if status is not None and status.code != Code.SUCCESS:
        return status
    return framework.run_filters_on_node(state, pod, node_info)


def _filter_with_added(
    framework: Framework,
    state: CycleState,
    pod: PodInfo,
    node_info: NodeInfo,
    nominated: list[PodInfo],
) -> Status | None:
    snap = framework.snapshot
    state_out = state.clone()
    added: list[PodInfo] = []
    try:
        for p in nominated:
            snap.add_pod(p, node_info.name)
            added.append(p)
            status = run_pre_filter_extension_add_pod(framework, state_out, pod, p, node_info)
            if status is not None:
                return status
        return framework.run_filters_on_node(state_out, pod, node_info)
    finally:
        for p in reversed(added):
            snap.remove_pod(p)
