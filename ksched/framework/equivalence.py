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

A class also remembers its last failed cycle (``KnownFailure``) with the
snapshot's generation then: the waiting twins an event sends back to the
queue are tried back to back, and until the snapshot changes each would
fail the same way, with the same message.

Pods are compared on what scheduling reads of them.  What an API server
stamps on each pod separately but no plugin reads is left out: containers'
untyped fields (mounts, env, probes) and the volumes that need nothing of a
node (the service-account token's projected volume has a random name per
pod).  A ``node_local`` plugin must not read those.  Of the annotations, only
the keys the profile's ``node_local`` plugins say they read
(``pod_annotations``) are compared, so a per-pod annotation no plugin reads
(the simulated kubelet's run time) does not make every pod a class of its
own; a ``node_local`` plugin that says nothing is taken to read them all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ksched.api.pod import PodSpec
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot

# Classes seen once that are remembered, in case a twin comes.
MAX_CLASSES = 1024
# Bytes of per-node arrays the classes seen again may hold: a retried pod needs its arrays
# until it is placed. An entry holds four bytes per node, eight more per node and score plugin
# once scored: 6,000 failing pods' arrays on 10,000 nodes.
ARRAY_BUDGET = 256 * 2**20
# Where a pod keeps (cache, class) of its last lookup: a retried pod skips the
# comparison of its whole spec (``EquivalenceCache._still``).
_MEMO_KEY = "ksched/equivalence-class"
# Volume sources served from the API or the node's own disk: no plugin places a pod by them.
NODE_FREE_VOLUMES = frozenset({"projected", "configMap", "secret", "downwardAPI", "emptyDir"})


@dataclass(frozen=True, slots=True)
class KnownFailure:
    """A class's last failed cycle, which repeats while the snapshot stays at ``token``.

    Filters and (recorded only when it is side-effect free) PostFilter read
    nothing but the pod's class and the snapshot, so a twin retried before
    either changes fails the same way: the queue's retries after one pod
    deletion try every waiting twin back to back.
    """

    token: tuple[int, int]
    unschedulable_plugins: frozenset[str]
    message: str


@dataclass(slots=True, eq=False)
class ClassEntry:
    """One equivalence class: a representative pod and, from its second sighting (its first
    when every node is filtered anyway), the arrays."""

    pod: PodInfo
    spec: dict[str, Any]
    # The compared annotations, copied: GPU-share Reserve writes the chosen GPUs into the
    # representative's.
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
    # nbytes() when the cache last measured it, for its running total.
    counted_bytes: int = 0
    failure: KnownFailure | None = None

    def nbytes(self) -> int:
        """Bytes of the per-node arrays, from their fixed dtypes (asked on every lookup)."""
        if self.codes is None:
            return 0
        # codes (uint8), who (int16) and fits (bool); int64 raw scores and their fixed total.
        per_node = 4 + 8 * (len(self.raw) + (self.fixed_total is not None))
        return len(self.codes) * per_node

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


def read_annotations(plugins: Iterable[Any]) -> frozenset[str] | None:
    """The pod annotation keys the ``node_local`` plugins read; None (all) if one does not say."""
    keys: set[str] = set()
    for plugin in plugins:
        if getattr(plugin, "node_local", False):
            declared = getattr(plugin, "pod_annotations", None)
            if declared is None:
                return None
            keys.update(declared)
    return frozenset(keys)


def compared_annotations(
    annotations: Mapping[str, str], keys: frozenset[str] | None
) -> dict[str, str]:
    """The annotations a class is told apart by: those under ``keys`` (all when None)."""
    if keys is None:
        return dict(annotations)
    return {k: annotations[k] for k in keys if k in annotations}


def same_pod_class(entry: ClassEntry, b: PodInfo, keys: frozenset[str] | None = None) -> bool:
    """Same scheduling fields, labels, read annotations and namespace: all a plugin may read."""
    pa, pb = entry.pod.pod, b.pod
    notes = pb.metadata.annotations
    return (
        entry.pod.namespace == b.namespace
        and pa.metadata.labels == pb.metadata.labels
        and entry.annotations == (notes if keys is None else compared_annotations(notes, keys))
        and entry.spec == scheduling_fields(pb.spec)
    )


class EquivalenceCache:
    """Classes keyed by a cheap pre-key, confirmed by full equality with the representative.

    Two least-recently-used tiers. Classes seen once (no arrays yet) are at
    most ``capacity``: distinct pods pass through once. Classes seen again
    (retried pods, replicas) hold the arrays; they go only when those exceed
    ``budget`` bytes or their count reaches ``capacity`` times 16. A replay
    whose failing pods outnumbered one shared limit evicted each before its
    next retry, and every retry filtered every node again.
    """

    def __init__(
        self,
        capacity: int = MAX_CLASSES,
        budget: int = ARRAY_BUDGET,
        annotation_keys: frozenset[str] | None = None,
    ) -> None:
        self.capacity = capacity
        # The pod annotations compared (``read_annotations``); None: all of them.
        self.annotation_keys = annotation_keys
        self.budget = budget
        self._entries: dict[tuple[Any, ...], list[ClassEntry]] = {}
        # id(entry) -> (pre-key, entry), least recently used first, one per tier.
        self._once: OrderedDict[int, tuple[tuple[Any, ...], ClassEntry]] = OrderedDict()
        self._again: OrderedDict[int, tuple[tuple[Any, ...], ClassEntry]] = OrderedDict()
        self._again_bytes = 0
        # The class last looked up: its cycle may have built or grown its arrays since.
        self._last: ClassEntry | None = None

    def lookup(self, pod: PodInfo) -> ClassEntry:
        last = self._last
        if last is not None and id(last) in self._again:
            self._measure(last)
            self._shrink()
        entry = self._lookup(pod)
        self._last = entry
        return entry

    def _lookup(self, pod: PodInfo) -> ClassEntry:
        memo = pod.cache.get(_MEMO_KEY)
        if memo is not None and memo[0] is self:
            entry: ClassEntry = memo[1]
            key = self._still(entry, pod)
            if key is not None:
                entry.seen += 1
                self._touch(key, entry)
                return entry
        entry = self._find(pod)
        pod.cache[_MEMO_KEY] = (self, entry)
        return entry

    def _still(self, entry: ClassEntry, pod: PodInfo) -> tuple[Any, ...] | None:
        """The pre-key of the class this pod was last found in, if held and the pod still of it.

        A retried pod is the same object: its spec stays as it was but for ``nodeName``
        (written on binding, cleared when binding fails), while Reserve may have written
        annotations and an update may have relabelled it. Those are compared again; the
        rest of the spec, the dearest part of ``same_pod_class``, is not.
        """
        ident = id(entry)
        held = self._once.get(ident) or self._again.get(ident)
        if held is None or held[1] is not entry:
            return None
        pa, pb = entry.pod.pod, pod.pod
        notes = pb.metadata.annotations
        keys = self.annotation_keys
        same = (
            pb.spec.node_name == entry.spec["node_name"]
            and pa.metadata.labels == pb.metadata.labels
            and entry.annotations == (notes if keys is None else compared_annotations(notes, keys))
        )
        return held[0] if same else None

    def _find(self, pod: PodInfo) -> ClassEntry:
        key = (pod.namespace, pod.priority, tuple(pod.requests.items()))
        bucket = self._entries.get(key)
        if bucket is None:
            bucket = self._entries[key] = []
        for entry in bucket:
            if same_pod_class(entry, pod, self.annotation_keys):
                entry.seen += 1
                self._touch(key, entry)
                return entry
        # The spec's fields now: binding later writes nodeName into the pod's own spec.
        notes = compared_annotations(pod.pod.metadata.annotations, self.annotation_keys)
        entry = ClassEntry(pod, scheduling_fields(pod.pod.spec), notes)
        bucket.append(entry)
        self._once[id(entry)] = (key, entry)
        if len(self._once) > self.capacity:
            self._forget(*self._once.popitem(last=False)[1])
        return entry

    def _touch(self, key: tuple[Any, ...], entry: ClassEntry) -> None:
        """Move ``entry`` to the recent end of the second tier, re-measuring its arrays."""
        ident = id(entry)
        if self._once.pop(ident, None) is None:
            self._again.move_to_end(ident)
        else:
            self._again[ident] = (key, entry)
        self._measure(entry)
        self._shrink()

    def _shrink(self) -> None:
        """Evict second-tier classes, least recent first, down to the budget and count."""
        limit = 16 * self.capacity
        while len(self._again) > 1 and (
            self._again_bytes > self.budget or len(self._again) > limit
        ):
            old = self._again.popitem(last=False)[1]
            self._again_bytes -= old[1].counted_bytes
            self._forget(*old)

    def _measure(self, entry: ClassEntry) -> None:
        size = entry.nbytes()
        self._again_bytes += size - entry.counted_bytes
        entry.counted_bytes = size

    def _forget(self, key: tuple[Any, ...], old: ClassEntry) -> None:
        rest = [e for e in self._entries[key] if e is not old]
        if rest:
            self._entries[key] = rest
        else:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._once) + len(self._again)

    def clear(self) -> None:
        self._entries.clear()
        self._once.clear()
        self._again.clear()
        self._again_bytes = 0
        self._last = None
