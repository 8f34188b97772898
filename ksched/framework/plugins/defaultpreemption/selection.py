"""Ordering victims and choosing among preemption candidates.

Upstream ``util.MoreImportantPod``, ``util.GetEarliestPodStartTime`` and
``pickOneNodeForPreemption`` (pkg/scheduler/framework/preemption/preemption.go).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ksched.api import parse_time
from ksched.framework.pod_info import PodInfo

__all__ = [
    "Candidate",
    "earliest_start_of_most_important",
    "importance_key",
    "pick_one_node_for_preemption",
    "start_time_ns",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)
# Upstream reads a missing start time as "now", which is later than any recorded one.
_NOT_STARTED = 2**63 - 1
# Added to each priority so that the sum over more victims is always larger (MaxInt32 + 1).
_PRIORITY_OFFSET = 2**31


@dataclass(frozen=True, slots=True)
class Candidate:
    """A node where evicting ``victims`` (most important first) lets the preemptor fit."""

    node_name: str
    victims: tuple[PodInfo, ...]
    num_pdb_violations: int


def start_time_ns(pod: PodInfo) -> int:
    """``status.startTime``, else the creation timestamp, in ns since the epoch."""
    text = pod.pod.status.start_time or pod.pod.metadata.creation_timestamp
    if not text:
        return _NOT_STARTED
    moment = parse_time(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_MICROSECOND * 1000


def importance_key(pod: PodInfo) -> tuple[int, int]:
    """Sorts the most important pod first: higher priority, then the longer running."""
    return (-pod.priority, start_time_ns(pod))


def earliest_start_of_most_important(victims: Sequence[PodInfo]) -> int:
    """Earliest start among the highest-priority victims (``GetEarliestPodStartTime``)."""
    top = max(p.priority for p in victims)
    return min(start_time_ns(p) for p in victims if p.priority == top)


def _rank(c: Candidate) -> tuple[int, int, int, int, int]:
    victims = c.victims
    return (
        -c.num_pdb_violations,
        -victims[0].priority,
        -sum(p.priority + _PRIORITY_OFFSET for p in victims),
        -len(victims),
        earliest_start_of_most_important(victims),
    )


def pick_one_node_for_preemption(candidates: Sequence[Candidate]) -> Candidate | None:
    """The best candidate by upstream's criteria, each breaking the ties of the previous one.

    1. fewest PDB violations; 2. lowest highest-victim priority; 3. smallest
    sum of victim priorities; 4. fewest victims; 5. latest start of the
    highest-priority victims; 6. the first candidate (upstream: map order).
    """
    if not candidates:
        return None
    # max() keeps the first of equal ranks, which is criterion 6.
    return max(candidates, key=_rank)
