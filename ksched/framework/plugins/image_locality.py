"""ImageLocality: favour nodes that already hold the pod's images (imagelocality/image_locality.go).

Each image present counts its size scaled by the share of nodes holding it,
so a ubiquitous image does not pull pods together; the sum is clamped to
[23 MB, 1000 MB x containers] and mapped to 0..100.
"""

from __future__ import annotations

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
    """Add the default tag when the name has none (after the last '/')."""
    if name.rfind(":") <= name.rfind("/"):
        name = name + ":latest"
    return name


def _images(pod: PodInfo) -> tuple[list[str], int]:
    hit = pod.cache.get(NAME)
    if hit is None:
        spec = pod.pod.spec
        containers = [*spec.init_containers, *spec.containers]
        hit = (
            [normalized_image_name(c.image or "") for c in containers if c.image],
            len(containers),
        )
        pod.cache[NAME] = hit
    return hit


def calculate_priority(sum_scores: NDArray[np.int64], num_containers: int) -> NDArray[np.int64]:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    clamped = np.clip(sum_scores, MIN_THRESHOLD, max_threshold)
    return MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    # A node's score depends on its own images and the cluster's image spread,
    # which changes only when nodes change (that invalidates cached results).
    node_local = True

    def __init__(self) -> None:
        self._index: tuple[int, dict[str, tuple[NDArray[np.intp], NDArray[np.int64]]]] | None = None
        # Scores depend on the images and the node set only: cached per image list.
        self._totals: dict[tuple[str | int, ...], tuple[int, NDArray[np.int64]]] = {}

    @property
    def name(self) -> str:
        return NAME

    def _image_rows(
        self, snap: ClusterSnapshot
    ) -> dict[str, tuple[NDArray[np.intp], NDArray[np.int64]]]:
        """Image name -> (rows holding it, size on each), rebuilt when nodes change."""
        if self._index is not None and self._index[0] == snap.node_generation:
            return self._index[1]
        rows: dict[str, tuple[list[int], list[int]]] = {}
        for info in snap.nodes:
            for image in info.node.status.images:
                for name in image.names:
                    r, s = rows.setdefault(name, ([], []))
                    r.append(info.index)
                    s.append(image.size_bytes or 0)
        index = {
            name: (np.array(r, dtype=np.intp), np.array(s, dtype=np.int64))
            for name, (r, s) in rows.items()
        }
        self._index = (snap.node_generation, index)
        return index

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        images, containers = _images(pod)
        if not containers:
            return 0
        total_nodes = node.snapshot.n
        sizes = {n: img.size_bytes or 0 for img in node.node.status.images for n in img.names}
        total = 0
        for name in images:
            if name in sizes:
                spread = node.snapshot.image_nodes.get(name, 0) / total_nodes
                total += int(sizes[name] * spread)
        return int(calculate_priority(np.array([total], dtype=np.int64), containers)[0])

    def score_nodes(self, state: CycleState, pod: PodInfo, nodes: NodeSet) -> NDArray[np.int64]:
        images, containers = _images(pod)
        if not containers:
            return np.zeros(len(nodes), dtype=np.int64)
        snap = nodes.snapshot
        key: tuple[str | int, ...] = (*images, containers)
        cached = self._totals.get(key)
        if cached is None or cached[0] != snap.node_generation:
            index = self._image_rows(snap)
            total = np.zeros(snap.n, dtype=np.int64)
            for name in images:
                hit = index.get(name)
                if hit is not None:
                    spread = snap.image_nodes.get(name, 0) / snap.n
                    total[hit[0]] += (hit[1] * spread).astype(np.int64)
            if len(self._totals) > 1024:
                self._totals.clear()
            cached = (snap.node_generation, calculate_priority(total, containers))
            self._totals[key] = cached
        return cached[1][nodes.idx]


def new(args: Any, handle: Any) -> ImageLocality:
    return ImageLocality()
