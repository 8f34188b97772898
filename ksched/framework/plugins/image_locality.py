"""ImageLocality: favour nodes that already hold the pod's container images.

Upstream imagelocality/image_locality.go: each of the pod's (init)
containers whose image is on the node adds the image size scaled by its
spread (nodes holding it / all nodes), so an image present everywhere does
not pull pods together; the sum is clamped to [23 MB, 1000 MB x containers]
and mapped linearly onto 0..100 (``calculatePriority``).

Upstream takes an image's size from the cluster-wide image state, i.e. from
the first node that reported it; here that is the lowest snapshot row
holding it (the earliest added node still present).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ksched.framework.cycle_state import CycleState
from ksched.framework.interface import MAX_NODE_SCORE
from ksched.framework.plugins import names
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import ClusterSnapshot, NodeInfo, NodeSet

NAME: Final = names.IMAGE_LOCALITY
MB: Final = 1024 * 1024
MIN_THRESHOLD: Final = 23 * MB
MAX_CONTAINER_THRESHOLD: Final = 1000 * MB


def normalized_image_name(name: str) -> str:
    """``normalizedImageName``: add ``:latest`` when no tag follows the last '/'."""
    if name.rfind(":") <= name.rfind("/"):
        name += ":latest"
    return name


def calculate_priority(sum_scores: NDArray[np.int64], num_containers: int) -> NDArray[np.int64]:
    """``calculatePriority`` for each summed image score; ``num_containers`` is at least 1."""
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    clamped = np.clip(sum_scores, MIN_THRESHOLD, max_threshold)
    out: NDArray[np.int64] = (
        MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)
    )
    return out


def _pod_images(pod: PodInfo) -> tuple[tuple[str, ...], int]:
    """Normalised image of every init and regular container, and the container count."""
    hit = pod.cache.get(NAME)
    if hit is None:
        spec = pod.pod.spec
        containers = [*spec.init_containers, *spec.containers]
        hit = (tuple(normalized_image_name(c.image or "") for c in containers), len(containers))
        pod.cache[NAME] = hit
    return hit


@dataclass(slots=True, eq=False)
class _ImageIndex:
    """Per image name: the rows holding it and its spread-scaled score; per node generation."""

    snapshot: weakref.ref[ClusterSnapshot]
    node_generation: int
    rows: dict[str, NDArray[np.intp]]
    scaled: dict[str, int]
    totals: dict[tuple[tuple[str, ...], int], NDArray[np.int64]] = field(default_factory=dict)

    @classmethod
    def build(cls, snap: ClusterSnapshot) -> _ImageIndex:
        holders: dict[str, list[int]] = {}
        sizes: dict[str, int] = {}
        for info in snap.nodes:
            for image in info.node.status.images:
                for name in image.names:
                    held = holders.setdefault(name, [])
                    if not held or held[-1] != info.index:
                        held.append(info.index)
                    sizes.setdefault(name, image.size_bytes or 0)
        # scaledImageScore: int64(float64(size) * float64(numNodes) / float64(totalNumNodes)).
        scaled = {name: int(float(sizes[name]) * (len(r) / snap.n)) for name, r in holders.items()}
        rows = {name: np.array(r, dtype=np.intp) for name, r in holders.items()}
        return cls(weakref.ref(snap), snap.node_generation, rows, scaled)

    def current_for(self, snap: ClusterSnapshot) -> bool:
        return self.snapshot() is snap and self.node_generation == snap.node_generation


class ImageLocality:
    """Score nodes by the (spread-scaled) size of the pod's images they already hold."""

    # Scores depend on the node's images and the cluster's image spread, which
    # change only with the nodes themselves (that invalidates cached results).
    node_local = True
    pod_annotations: frozenset[str] = frozenset()  # it reads no pod annotation
    node_object_only = True

    def __init__(self) -> None:
        self._index: _ImageIndex | None = None

    @property
    def name(self) -> str:
        return NAME

    def _images(self, snap: ClusterSnapshot) -> _ImageIndex:
        index = self._index
        if index is None or not index.current_for(snap):
            index = self._index = _ImageIndex.build(snap)
        return index

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        images, containers = _pod_images(pod)
        if not containers:
            return 0
        index = self._images(node.snapshot)
        on_node = {name for image in node.node.status.images for name in image.names}
        total = sum(index.scaled[name] for name in images if name in on_node)
        return int(calculate_priority(np.array([total], dtype=np.int64), containers)[0])

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        scores = self._all_scores(pod, nodes.snapshot)
        if scores is None:
            return np.zeros(len(nodes), dtype=np.int64)
        return scores[nodes.idx]

    def score_row(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores = self._all_scores(pod, node.snapshot)
        return 0 if scores is None else int(scores[node.index])

    def _all_scores(self, pod: PodInfo, snap: ClusterSnapshot) -> NDArray[np.int64] | None:
        """Every snapshot row's score for ``pod``; None when all are 0 (no containers or images)."""
        index = self._images(snap)
        if not index.rows:
            return None  # no image anywhere: every sum is 0, below MIN_THRESHOLD
        images, containers = _pod_images(pod)
        if not containers:
            return None
        # Pods of one template share their images: their scores are computed once.
        key = (images, containers)
        scores = index.totals.get(key)
        if scores is None:
            total = np.zeros(snap.n, dtype=np.int64)
            for name in images:
                rows = index.rows.get(name)
                if rows is not None:
                    total[rows] += index.scaled[name]
            if len(index.totals) >= 1024:
                index.totals.clear()
            scores = index.totals[key] = calculate_priority(total, containers)
        return scores


def new(args: None, handle: Any) -> ImageLocality:
    return ImageLocality()
