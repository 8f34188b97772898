"""The set-up every replay shares: its parameters, the scheduler it drives, pods in arrival order.

``InProcessReplay`` holds what ``ArrivalReplay`` and ``TimeReplay`` (and so
``ksched.solvers.BatchArrivalReplay``) take alike, so a parameter means and
is checked the same in each, and they start their scheduler the same way;
they declare only their own parameters and pass ``ReplayOptions`` on.
``arrival_order`` and ``records_in_time`` are the pod order and the records
of every replay in time, in process or through the API
(``ksched.cluster.ApiReplay``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar, TypedDict

import numpy as np
from numpy.typing import NDArray

from ksched.config import KubeSchedulerConfiguration
from ksched.config.feature_gates import FeatureGateError, resolve_feature_gates
from ksched.framework.clock import SimClock
from ksched.scheduler.scheduler import TieBreak
from ksched.sim._common import (
    SIM_FEATURE_GATES,
    TIE_BREAKS,
    Observer,
    PodLog,
    Recorder,
    check,
    profile_name,
    scheduler_for,
)
from ksched.sim.metrics import (
    DEFAULT_COVERAGE,
    ClusterMetrics,
    NodeUtilRecorder,
    SeriesRecorder,
    TargetWorkload,
)
from ksched.sim.objects import PodConversion, PodFactory
from ksched.traces.workload import Workload

__all__ = ["InProcessReplay", "ReplayOptions", "arrival_order", "records_in_time"]


def arrival_order(workload: Workload, remedy: str) -> tuple[NDArray[np.intp], float]:
    """(rows of the pods with a creation time, by that time; the first one's time).

    The sort is stable, so pods created at once arrive in table order. A
    workload with pods but no times is refused with ``remedy`` appended.
    """
    pods = workload.pods
    created = pods.creation_time
    rows = np.flatnonzero(np.isfinite(created))
    if len(rows) == 0 and len(pods):
        raise ValueError(f"workload {workload.name!r} has no pod creation times: {remedy}")
    rows = rows[np.argsort(created[rows], kind="stable")].astype(np.intp)
    return rows, float(created[rows[0]]) if len(rows) else 0.0


def records_in_time(
    workload: Workload,
    node_names: list[str],
    coverage: float,
    arrivals: int,
    present: NDArray[np.bool_] | None = None,
) -> tuple[ClusterMetrics, PodLog, SeriesRecorder, NodeUtilRecorder]:
    """(metrics, pod log, series, node samples) for ``arrivals`` pods replayed in time.

    The series starts with room for a record per arrival and per departure,
    and a few more, so that it rarely grows.
    """
    target = TargetWorkload.from_pods(workload.pods, coverage)
    metrics = ClusterMetrics(workload.nodes, node_names, target, present=present)
    return metrics, PodLog(arrivals), SeriesRecorder(2 * arrivals + 16), NodeUtilRecorder()


class ReplayOptions(TypedDict, total=False):
    """The keyword parameters of ``InProcessReplay``, typed for subclasses that pass them on."""

    config: KubeSchedulerConfiguration | None
    profile: str | None
    label: str | None
    seed: int
    tie_break: TieBreak
    conversion: PodConversion | None
    coverage: float
    node_samples: int
    equivalence_cache: bool | None
    feature_gates: Mapping[str, bool] | None
    progress: bool
    observer: Observer | None
    recorder: Recorder | None


class InProcessReplay:
    """A replay driving a ``ksched.scheduler.Scheduler`` in this process. Keyword parameters only.

    ``config``/``profile``: the scheduler configuration and which of its
    profiles places the pods (default: the first). ``label`` names the
    result (default: the profile). ``coverage``: the share of pods the
    fragmentation's target workload covers. ``node_samples``: how many
    per-node utilisation samples the result keeps. ``equivalence_cache``:
    the scheduler's cache of per-node results by pod shape (decisions are
    the same either way); by default on when pod rows repeat, as in openb,
    or when failed pods are retried (the time-based protocol), and off when
    nearly every pod is distinct and tried once, where it only costs.
    ``feature_gates``: kube-scheduler's, over ``SIM_FEATURE_GATES``.
    ``observer(replay)`` is called as the replay goes (for invariant tests);
    ``recorder.attach(scheduler)`` once the scheduler exists
    (``ksched.ml.DecisionRecorder``: decision logs).
    """

    owner: ClassVar[str]  # the class named in parameter errors
    # Whether a failed pod is attempted again (it then repeats itself: the cache pays off).
    retries_repeat: ClassVar[bool] = False

    def __init__(
        self,
        workload: Workload,
        *,
        config: KubeSchedulerConfiguration | None = None,
        profile: str | None = None,
        label: str | None = None,
        seed: int = 0,
        tie_break: TieBreak = "random",
        conversion: PodConversion | None = None,
        coverage: float = DEFAULT_COVERAGE,
        node_samples: int = 100,
        equivalence_cache: bool | None = None,
        feature_gates: Mapping[str, bool] | None = None,
        progress: bool = False,
        observer: Observer | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        owner = self.owner
        check(owner, "tie_break", tie_break, tie_break in TIE_BREAKS, f"one of {TIE_BREAKS}")
        check(owner, "coverage", coverage, 0 < coverage <= 1, "in (0, 1]")
        check(owner, "node_samples", node_samples, node_samples >= 1, ">= 1")
        self.workload = workload
        self.config = config
        self.profile = profile
        self.label = label
        self.seed = seed
        self.tie_break: TieBreak = tie_break
        self.conversion = conversion or PodConversion()
        self.coverage = coverage
        self.node_samples = node_samples
        self.equivalence_cache = equivalence_cache
        try:
            self.feature_gates = resolve_feature_gates(
                {**SIM_FEATURE_GATES, **(feature_gates or {})}
            )
        except FeatureGateError as exc:
            raise ValueError(f"The 'feature_gates' parameter of {owner}: {exc}") from None
        self.progress = progress
        self.observer = observer
        self.recorder = recorder

    def _start_scheduler(
        self, config: KubeSchedulerConfiguration | None, clock: SimClock | None = None
    ) -> PodFactory:
        """Build ``self.scheduler`` on ``config`` and the factory of the pods it places."""
        self.scheduler_name = profile_name(self.config, self.profile)
        conversion = replace(self.conversion, scheduler_name=self.scheduler_name)
        factory = PodFactory(self.workload.pods, conversion)
        repeats = factory.repeats or self.retries_repeat
        cache = repeats if self.equivalence_cache is None else self.equivalence_cache
        self.scheduler = scheduler_for(
            config,
            self.seed,
            self.tie_break,
            clock=clock,
            equivalence_cache=cache,
            feature_gates=self.feature_gates,
        )
        if self.recorder is not None:
            self.recorder.attach(self.scheduler)
        return factory
