"""Many simulated kubelets in one process, in the spirit of KWOK.

Each node is registered as a Node object, keeps a Lease in
``kube-node-lease`` renewed every ``renew_interval`` seconds (upstream: a
quarter of the 40 s lease), and runs the pods bound to it through their
phases without running anything: Pending, then Running after the stage's
start delay (conditions Ready, a pod IP, ``startTime``), then Succeeded or
Failed after the pod's duration. Pod status goes through ``pods/status``.
A pod being deleted (``deletionTimestamp`` set) is removed at once, as a
kubelet does once its containers stopped.

A node failure (``fail_node``, or the annotation ``ksched.io/simulate:
NotReady`` on the Node) stops its lease renewal and its pods' progress,
marks it ``Ready=Unknown`` with the ``node.kubernetes.io/unreachable``
NoSchedule taint (what the node lifecycle controller would do once the
lease lapsed); recovery undoes both and picks its pods up again.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from ksched.controllers.client import LEASES, NODES, PODS, ApiError, KubeClient, Obj
from ksched.controllers.informer import Informer, key_of
from ksched.controllers.objects import now_rfc3339, parse_time
from ksched.kubelet.nodes import pod_ip
from ksched.kubelet.stages import Stages

__all__ = ["FAILURE_ANNOTATION", "LEASE_NAMESPACE", "UNREACHABLE_TAINT", "FakeKubelet"]

log = logging.getLogger(__name__)

LEASE_NAMESPACE: Final = "kube-node-lease"
FAILURE_ANNOTATION: Final = "ksched.io/simulate"
UNREACHABLE_TAINT: Final = "node.kubernetes.io/unreachable"
LEASE_SECONDS: Final = 40


def _micro_now() -> str:
    """A ``MicroTime`` (RFC 3339 with microseconds), as Lease times are written."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def _ready(status: str, reason: str, message: str, now: str) -> Obj:
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


class FakeKubelet:
    """Simulated kubelets for ``nodes`` (Node dicts, e.g. from ``ksched.kubelet.nodes``)."""

    def __init__(
        self,
        client: KubeClient,
        nodes: Sequence[Obj],
        *,
        stages: Stages | None = None,
        renew_interval: float = 10.0,
        workers: int = 8,
    ) -> None:
        self.client = client
        self.nodes = {str(n["metadata"]["name"]): n for n in nodes}
        self.index = {name: i for i, name in enumerate(self.nodes)}
        self.stages = stages or Stages()
        self.renew_interval = renew_interval
        self.failed: set[str] = set()
        self._annotated: set[str] = set()
        # Bound pods only, as a kubelet watches its node's (KWOK: all nodes it manages).
        self.pods = Informer(client, PODS, field_selector="spec.nodeName!=")
        self.node_informer = Informer(client, NODES)
        self.pods.add_handler(self._on_pod)
        self.node_informer.add_handler(self._on_node)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kubelet")
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        # uid -> phase the kubelet last wrote or is writing ("Pending" once picked up)
        self._state: dict[str, str] = {}
        self._state_lock = threading.Lock()
        self._serial = itertools.count()
        self._threads: list[threading.Thread] = []
        self.transitions = {"Running": 0, "Succeeded": 0, "Failed": 0, "Deleted": 0}

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, sync_timeout: float = 60.0) -> None:
        """Register nodes and leases, then follow pods."""
        self._ensure_namespace()
        list(self._pool.map(self._register, self.nodes.values()))
        list(self._pool.map(self._renew, list(self.nodes)))
        for target, name in ((self._timer_loop, "timers"), (self._lease_loop, "leases")):
            t = threading.Thread(target=target, name=f"kubelet-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        self.node_informer.start()
        self.pods.start()
        for informer in (self.node_informer, self.pods):
            if not informer.wait_synced(sync_timeout):
                raise TimeoutError(f"{informer.resource.plural}: no list within {sync_timeout} s")

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self.pods.stop()
        self.node_informer.stop()
        for t in self._threads:
            t.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _ensure_namespace(self) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LEASE_NAMESPACE}}
        try:
            self.client.request("POST", "/api/v1/namespaces", body=body)
        except ApiError as err:
            if err.status != 409:
                raise

    def _register(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        now = now_rfc3339()
        status = dict(node.get("status") or {})
        status["conditions"] = [
            _ready("True", "KubeletReady", "kubelet is posting ready status", now)
        ]
        body = {**node, "status": status}
        try:
            created = self.client.create(NODES, body)
        except ApiError as err:
            if err.status != 409:
                raise
            created = {}
        if (created.get("status") or {}).get("allocatable") != status.get("allocatable"):
            self.client.patch(NODES, name, {"status": status}, sub="status")

    # -- leases --------------------------------------------------------------------------
    def _renew(self, name: str) -> None:
        if name in self.failed:
            return
        spec = {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": _micro_now(),
        }
        try:
            self.client.patch(LEASES, name, {"spec": spec}, LEASE_NAMESPACE)
        except ApiError as err:
            if not err.not_found:
                raise
            node = self.node_informer.get(name) or {}
            meta: Obj = {"name": name, "namespace": LEASE_NAMESPACE}
            uid = (node.get("metadata") or {}).get("uid")
            if uid:
                meta["ownerReferences"] = [
                    {"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}
                ]
            lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta}
            self.client.create(LEASES, {**lease, "spec": spec}, LEASE_NAMESPACE)

    def _lease_loop(self) -> None:
        while not self._stop.wait(self.renew_interval):
            for name in list(self.nodes):
                if self._stop.is_set():
                    return
                self._submit(self._renew, name)

    # -- failure injection ---------------------------------------------------------------
    def fail_node(self, name: str) -> None:
        """Stop the node's lease and pods; mark it NotReady (Unknown) and unreachable."""
        if name not in self.nodes:
            raise KeyError(f"node {name!r} is not run by this kubelet")
        if name in self.failed:
            return
        self.failed.add(name)
        now = now_rfc3339()
        cond = _ready("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.", now)
        self.client.patch(NODES, name, {"status": {"conditions": [cond]}}, sub="status")
        self._set_taint(name, add=True)

    def recover_node(self, name: str) -> None:
        """Undo ``fail_node``: Ready again, lease renewed, its pods resume."""
        if name not in self.failed:
            return
        now = now_rfc3339()
        cond = _ready("True", "KubeletReady", "kubelet is posting ready status", now)
        self.client.patch(NODES, name, {"status": {"conditions": [cond]}}, sub="status")
        self._set_taint(name, add=False)
        self.failed.discard(name)
        self._renew(name)
        for pod in self.pods.items():
            if (pod.get("spec") or {}).get("nodeName") == name:
                self._on_pod("MODIFIED", None, pod)

    def _set_taint(self, name: str, *, add: bool) -> None:
        node = self.client.get(NODES, name)
        taints = [
            t
            for t in (node.get("spec") or {}).get("taints") or []
            if t.get("key") != UNREACHABLE_TAINT
        ]
        if add:
            taints.append(
                {"key": UNREACHABLE_TAINT, "effect": "NoSchedule", "timeAdded": now_rfc3339()}
            )
        self.client.patch(NODES, name, {"spec": {"taints": taints or None}})

    def _on_node(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if new is None:
            return
        name = str(new["metadata"]["name"])
        if name not in self.nodes:
            return
        wanted = (new["metadata"].get("annotations") or {}).get(FAILURE_ANNOTATION) == "NotReady"
        if wanted and name not in self._annotated:
            self._annotated.add(name)
            self._submit(self.fail_node, name)
        elif not wanted and name in self._annotated:  # only undo what the annotation did
            self._annotated.discard(name)
            self._submit(self.recover_node, name)

    # -- pods ----------------------------------------------------------------------------
    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        pod = new if new is not None else old
        assert pod is not None
        node = (pod.get("spec") or {}).get("nodeName")
        if node not in self.nodes:
            return
        uid = str(pod["metadata"].get("uid", ""))
        if new is None:
            with self._state_lock:
                self._state.pop(uid, None)
            return
        if node in self.failed:
            return
        if pod["metadata"].get("deletionTimestamp"):
            with self._state_lock:
                if self._state.get(uid) == "Deleting":
                    return
                self._state[uid] = "Deleting"
            self._submit(self._delete, pod)
            return
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        with self._state_lock:
            if uid in self._state or phase in ("Succeeded", "Failed"):
                return
            self._state[uid] = "Pending"
        plan = self.stages.plan(pod)
        if phase == "Running":  # picked up again (restart, recovery): only the end is left
            with self._state_lock:
                self._state[uid] = "Running"
            if plan.run_for is not None:
                started = parse_time((pod.get("status") or {}).get("startTime"))
                self._at((started or time.time()) + plan.run_for, self._finish, pod)
            return
        self._at(time.time() + plan.start_after, self._start_pod, pod)

    def _current(self, pod: Obj) -> Obj | None:
        """The pod as the informer has it now, if it is still ours to drive."""
        now = self.pods.get(key_of(pod))
        if now is None or now["metadata"].get("uid") != pod["metadata"].get("uid"):
            return None
        if now["metadata"].get("deletionTimestamp"):
            return None
        if (now.get("spec") or {}).get("nodeName") in self.failed:
            with self._state_lock:
                self._state.pop(str(pod["metadata"].get("uid")), None)
            return None
        return now

    def _start_pod(self, pod: Obj) -> None:
        current = self._current(pod)
        if current is None:
            return
        meta, spec = current["metadata"], current.get("spec") or {}
        node = str(spec["nodeName"])
        now = now_rfc3339()
        host = str(self.nodes[node]["status"]["addresses"][0]["address"])
        ip = pod_ip(self.index[node], next(self._serial))
        status = {
            "phase": "Running",
            "hostIP": host,
            "hostIPs": [{"ip": host}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "conditions": [
                {"type": kind, "status": "True", "lastTransitionTime": now}
                for kind in (
                    "PodReadyToStartContainers",
                    "Initialized",
                    "Ready",
                    "ContainersReady",
                    "PodScheduled",
                )
            ],
            "containerStatuses": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": "",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
                for c in spec.get("containers") or []
            ],
        }
        self.client.patch(PODS, meta["name"], {"status": status}, meta.get("namespace"), "status")
        self._count("Running")
        with self._state_lock:
            self._state[str(meta.get("uid"))] = "Running"
        plan = self.stages.plan(current)
        if plan.run_for is not None:
            self._at(time.time() + plan.run_for, self._finish, {**current, "status": status})

    def _finish(self, pod: Obj) -> None:
        current = self._current(pod)
        if current is None:
            return
        meta, spec = current["metadata"], current.get("spec") or {}
        plan = self.stages.plan(current)
        now = now_rfc3339()
        started = (pod.get("status") or {}).get("startTime") or now
        code = 0 if plan.result == "Succeeded" else 1
        reason = "Completed" if code == 0 else "Error"
        status = {
            "phase": plan.result,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "PodCompleted",
                    "lastTransitionTime": now,
                },
                {
                    "type": "ContainersReady",
                    "status": "False",
                    "reason": "PodCompleted",
                    "lastTransitionTime": now,
                },
                {"type": "Initialized", "status": "True", "lastTransitionTime": started},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
            ],
            "containerStatuses": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": "",
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": code,
                            "reason": reason,
                            "startedAt": started,
                            "finishedAt": now,
                        }
                    },
                }
                for c in spec.get("containers") or []
            ],
        }
        self.client.patch(PODS, meta["name"], {"status": status}, meta.get("namespace"), "status")
        self._count(plan.result)
        with self._state_lock:
            self._state[str(meta.get("uid"))] = plan.result

    def _delete(self, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            self.client.delete(
                PODS, meta["name"], meta.get("namespace"), grace_period=0, uid=meta.get("uid")
            )
        except ApiError as err:
            if not (err.not_found or err.conflict):
                raise
        self._count("Deleted")

    def _count(self, what: str) -> None:
        with self._state_lock:
            self.transitions[what] += 1

    # -- timers and workers ----------------------------------------------------------------
    def _at(self, when: float, action: Callable[[Obj], None], pod: Obj) -> None:
        with self._cond:
            heapq.heappush(self._timers, (when, next(self._seq), lambda: self._submit(action, pod)))
            self._cond.notify()

    def _timer_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                now = time.time()
                due = []
                while self._timers and self._timers[0][0] <= now:
                    due.append(heapq.heappop(self._timers)[2])
                if not due:
                    wait = self._timers[0][0] - now if self._timers else None
                    self._cond.wait(wait)
                    continue
            for fire in due:
                fire()

    def _submit(self, action: Callable[[Any], None], arg: Any) -> None:
        if self._stop.is_set():
            return
        with contextlib.suppress(RuntimeError):  # the pool shut down meanwhile
            self._pool.submit(self._guard, action, arg)

    def _guard(self, action: Callable[[Any], None], arg: Any) -> None:
        try:
            action(arg)
        except (ApiError, OSError) as err:
            if self._stop.is_set():
                return
            log.warning("%s(%s) failed: %s; retrying", action.__name__, _name(arg), err)
            if isinstance(arg, dict) and (not isinstance(err, ApiError) or not err.not_found):
                self._at(time.time() + 0.5, action, arg)
        except Exception:
            log.exception("%s(%s) failed", action.__name__, _name(arg))


def _name(arg: Any) -> str:
    if isinstance(arg, dict):
        return key_of(arg)
    return str(arg)
