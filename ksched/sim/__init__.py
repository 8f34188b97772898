"""Trace replay: a discrete-event engine driving the scheduler, two protocols, metrics, results.

``TimeReplay`` replays a workload in simulated time (arrivals, departures,
node events, kube-scheduler's retry queue); ``ArrivalReplay`` is the FGD
paper's arrival-only protocol (tuned workload, one attempt per pod, a record
after every pod). Both return a ``ReplayResult`` in the format
``ksched.report`` reads. ``compare`` runs several profiles on one workload.
Submodules are implementation detail: import from here.
"""

from ksched.sim.arrival_replay import ArrivalReplay, fgd_node_names
from ksched.sim.engine import EmptyScheduleError, Engine, EventError
from ksched.sim.metrics import (
    ClusterMetrics,
    Fragmentation,
    TargetWorkload,
    discrete_by_arrived,
    packed_layout,
)
from ksched.sim.objects import PodConversion, PodFactory
from ksched.sim.result import ReplayResult, read_results
from ksched.sim.runner import (
    Profile,
    builtin_profiles,
    compare,
    format_summary,
    load_profiles,
    replay,
    write_results,
)
from ksched.sim.time_replay import NodeEvent, TimeReplay
from ksched.sim.tuning import TunedPods, tune_pods, tune_workload

__all__ = [
    "ArrivalReplay",
    "ClusterMetrics",
    "EmptyScheduleError",
    "Engine",
    "EventError",
    "Fragmentation",
    "NodeEvent",
    "PodConversion",
    "PodFactory",
    "Profile",
    "ReplayResult",
    "TargetWorkload",
    "TimeReplay",
    "TunedPods",
    "builtin_profiles",
    "compare",
    "discrete_by_arrived",
    "fgd_node_names",
    "format_summary",
    "load_profiles",
    "packed_layout",
    "read_results",
    "replay",
    "tune_pods",
    "tune_workload",
    "write_results",
]
