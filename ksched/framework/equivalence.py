"""Reuse of per-node Filter and Score results between identical pods.

Replayed and benchmarked workloads submit many pods with the same spec
(replicas of one template).  For plugins whose verdict on a node depends
only on the pod and that node (``node_local = True``), the answers for a
pod's twin differ from the last ones only on the nodes whose pods changed
since.  This cache keeps, per pod class, every node's first-failing filter
and every plugin's raw score, and recomputes just the changed rows from the
snapshot's change log.  That log holds pod changes only (a node change
invalidates every entry), so a plugin that also declares ``node_object_only =
True`` (it reads the Node object, not the pods on it) keeps its answers on the
changed rows and is asked again only where the filter order needs it (see
``Framework._filter_few``).  Decisions are the same as without it:
the feasible window, normalisation and host selection still run on the
current values.
(kube-scheduler had an equivalence cache of this kind until v1.12.)

Pods are compared on what scheduling reads of them.  What an API server
stamps on each pod separately but no plugin reads is left out: containers'
untyped fields (mounts, env, probes) and the volumes that need nothing of a
node (the service-account token's projected volume has a random name per
pod).  A ``node_local`` plugin must not read those.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ksched.api.pod import PodSpec
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot

# A retried pod needs its arrays until it is placed: enough for the pods failing at once in a
# busy replay (hundreds). An entry holds a few bytes per node, eight per node and score plugin
# once scored.
MAX_CLASSES = 1024
# Volume sources served from the API or the node's own disk: no plugin places a pod by them.
NODE_FREE_VOLUMES = frozenset({"projected", "configMap", "secret", "downwardAPI", "emptyDir"})


@dataclass(slots=True, eq=False)
class ClassEntry:
    """One equivalence class: a representative pod and, from its second sighting (its first
    when every node is filtered anyway), the arrays."""

    pod: PodInfo
    spec: dict[str, Any]
    # A copy: GPU-share Reserve writes the chosen GPUs into the representative's annotations.
    annotations: dict[str, str] = field(default_factory=dict)
    seen: int = 1
    node_generation: int = -1
    resource_version: int = -1
    log_position: int = -1
    score_position: int = -1
    filters: tuple[str, ...] = ()
    scores: tuple[str, ...] = ()
    codes: NDArray[np.uint8] | None = None
    who: NDArray[np.int16] | None = None
    fits: NDArray[np.bool_] | None = None
    fixed_total: NDArray[np.int64] | None = None
    raw: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    # The last changed rows worked out: (since position, log position, node generation, rows).
    # Filter and Score of one cycle usually ask the same question.
    dirty: tuple[int, int, int, NDArray[np.intp] | slice | None] | None = None

    def valid_for(self, snap: ClusterSnapshot) -> bool:
        return (
            self.codes is not None
            and self.node_generation == snap.node_generation
            and self.resource_version == snap.resources.version
            and len(self.codes) == snap.n
        )


def scheduling_fields(spec: PodSpec) -> dict[str, Any]:
    """The spec's fields as scheduling reads them (see the module docstring).

    Pods stamped from one template share their nested objects, so comparing
    two of these dicts mostly stops at identity.
    """
    fields = dict(vars(spec))
    if spec.volumes:
        fields["volumes"] = [v for v in spec.volumes if not NODE_FREE_VOLUMES.intersection(v)]
    for key in ("containers", "init_containers"):
        if fields[key]:
            fields[key] = [vars(c) for c in fields[key]]  # typed fields only: no mounts
    return fields


def same_pod_class(entry: ClassEntry, b: PodInfo) -> bool:
    """Same scheduling fields, labels, annotations and namespace: all a plugin may read."""
    pa, pb = entry.pod.pod, b.pod
    return (
        entry.pod.namespace == b.namespace
        and pa.metadata.labels == pb.metadata.labels
        and entry.annotations == pb.metadata.annotations
        and entry.spec == scheduling_fields(pb.spec)
    )


class EquivalenceCache:
    """Classes keyed by a cheap pre-key, confirmed by full equality with the representative.

    Past ``capacity`` classes the least recently used one goes: a pod that
    keeps failing comes back every backoff period while new, distinct pods
    pass through once, so recency keeps the retried pods' arrays.
    """

    def __init__(self, capacity: int = MAX_CLASSES) -> None:
        self.capacity = capacity
        self._entries: dict[tuple[Any, ...], list[ClassEntry]] = {}
        # id(entry) -> (pre-key, entry), least recently used first.
        self._recency: OrderedDict[int, tuple[tuple[Any, ...], ClassEntry]] = OrderedDict()

    def lookup(self, pod: PodInfo) -> ClassEntry:
        key = (pod.namespace, pod.priority, tuple(pod.requests.items()))
        bucket = self._entries.get(key)
        if bucket is None:
            bucket = self._entries[key] = []
        for entry in bucket:
            if same_pod_class(entry, pod):
                entry.seen += 1
                self._recency.move_to_end(id(entry))
                return entry
        # The spec's fields now: binding later writes nodeName into the pod's own spec.
        entry = ClassEntry(pod, scheduling_fields(pod.pod.spec), dict(pod.pod.metadata.annotations))
        bucket.append(entry)
        self._recency[id(entry)] = (key, entry)
        if len(self._recency) > self.capacity:
            _, (old_key, old) = self._recency.popitem(last=False)
            rest = [e for e in self._entries[old_key] if e is not old]
            if rest:
                self._entries[old_key] = rest
            else:
                del self._entries[old_key]
        return entry

    def __len__(self) -> int:
        return len(self._recency)

    def clear(self) -> None:
        self._entries.clear()
        self._recency.clear()
