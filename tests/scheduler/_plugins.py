"""Small plugins and builders for the scheduler tests.

Every plugin is a real class registered by name through ``PluginSpec.from_class``
into a ``Registry`` next to the in-tree plugins, and enabled by a real
``KubeSchedulerConfiguration`` YAML text, exactly as an out-of-tree author
would ship one.  Plugins write what they see into a log shared through
``Handle.extra`` so tests can assert on call order across plugins.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ksched.api import Node, Pod
from ksched.config import KubeSchedulerConfiguration, PluginSpec, Registry, load_config_text
from ksched.framework.clock import SimClock
from ksched.framework.cycle_state import CycleState
from ksched.framework.handle import Handle
from ksched.framework.interface import NodeToStatus, PostFilterResult, PreFilterResult
from ksched.framework.plugins.registry import in_tree_registry
from ksched.framework.pod_info import PodInfo
from ksched.framework.snapshot import NodeInfo, NodeSet
from ksched.framework.status import SKIP, Code, Status
from ksched.scheduler import Scheduler
from ksched.testing import node_json, pod_json

LOG: Final = "tests/log"
SOURCE: Final = "tests/scheduler/_plugins.py"

HEADER: Final = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
"""


def log_of(handle: Handle) -> list[str]:
    """The call log every test plugin of a scheduler appends to."""
    log: list[str] = handle.extra.setdefault(LOG, [])
    return log


class _Args(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


# -- Reserve -------------------------------------------------------------------------
class ReserveArgs(_Args):
    verdict: Literal["ok", "reject", "error"] = "ok"


class RecordingReserve:
    """Logs ``reserve``/``unreserve``; rejects or fails when its args say so."""

    def __init__(self, name: str, args: ReserveArgs, handle: Handle) -> None:
        self._name = name
        self.args = args
        self.log = log_of(handle)

    @property
    def name(self) -> str:
        return self._name

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        self.log.append(f"{self._name}.reserve {pod.name} {node_name}")
        if self.args.verdict == "reject":
            return Status.unschedulable(f"{self._name} rejected the reservation")
        if self.args.verdict == "error":
            return Status.from_error(f"{self._name} lost its ledger")
        return None

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        self.log.append(f"{self._name}.unreserve {pod.name} {node_name}")


def _reserve_factory(name: str) -> Any:
    def new(args: ReserveArgs | None, handle: Handle) -> RecordingReserve:
        return RecordingReserve(name, args or ReserveArgs(), handle)

    return new


# -- Permit --------------------------------------------------------------------------
class WaitArgs(_Args):
    timeout_seconds: float = 10.0


class WaitPermit:
    """Holds every pod at Permit until someone allows it or the timeout passes."""

    NAME: Final = "WaitPermit"

    def __init__(self, args: WaitArgs) -> None:
        self.args = args

    @property
    def name(self) -> str:
        return self.NAME

    def permit(
        self, state: CycleState, pod: PodInfo, node_name: str
    ) -> tuple[Status | None, float]:
        return Status.wait("waiting for approval"), self.args.timeout_seconds


class GangArgs(_Args):
    size: int = 2
    timeout_seconds: float = 30.0


class GangPermit:
    """Co-scheduling: pods labelled ``gang=<g>`` wait until ``size`` of them are reserved.

    The member that completes the gang allows the waiting ones through the
    shared ``waiting_pods``, as the scheduler-plugins Coscheduling plugin does.
    """

    NAME: Final = "Gang"

    def __init__(self, args: GangArgs, handle: Handle) -> None:
        self.args = args
        self.handle = handle

    @property
    def name(self) -> str:
        return self.NAME

    def permit(
        self, state: CycleState, pod: PodInfo, node_name: str
    ) -> tuple[Status | None, float]:
        gang = pod.labels.get("gang")
        if gang is None:
            return None, 0.0
        waiting = [wp for wp in self.handle.waiting_pods if wp.pod.labels.get("gang") == gang]
        if len(waiting) + 1 < self.args.size:
            return Status.wait(f"gang {gang} incomplete"), self.args.timeout_seconds
        for wp in waiting:
            wp.allow(self.NAME)
        return None, 0.0


class RejectPermit:
    """Rejects pods labelled ``deny=true`` at Permit."""

    NAME: Final = "RejectPermit"
    REASON: Final = "permit denied by policy"

    @property
    def name(self) -> str:
        return self.NAME

    def permit(
        self, state: CycleState, pod: PodInfo, node_name: str
    ) -> tuple[Status | None, float]:
        if pod.labels.get("deny") == "true":
            return Status.unschedulable(self.REASON), 0.0
        return None, 0.0


# -- Bind and PostBind ---------------------------------------------------------------
class FlakyBinderArgs(_Args):
    failures: int = 1


class FlakyBinder:
    """Fails its first ``failures`` binds with an error, then leaves binding to the next."""

    NAME: Final = "FlakyBinder"
    ERROR: Final = "connection refused"

    def __init__(self, args: FlakyBinderArgs, handle: Handle) -> None:
        self.left = args.failures
        self.log = log_of(handle)

    @property
    def name(self) -> str:
        return self.NAME

    def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        self.log.append(f"{self.NAME}.bind {pod.name} {node_name}")
        if self.left > 0:
            self.left -= 1
            return Status.from_error(self.ERROR)
        return SKIP


class SkipBinder:
    """Declines every pod (returns Skip) so the next Bind plugin binds it."""

    NAME: Final = "SkipBinder"

    def __init__(self, handle: Handle) -> None:
        self.log = log_of(handle)

    @property
    def name(self) -> str:
        return self.NAME

    def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        self.log.append(f"{self.NAME}.bind {pod.name} {node_name}")
        return SKIP


class PostBindRecorder:
    """Logs PostBind calls, with the node the pod's spec names at that moment."""

    NAME: Final = "PostBindRecorder"

    def __init__(self, handle: Handle) -> None:
        self.log = log_of(handle)

    @property
    def name(self) -> str:
        return self.NAME

    def post_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        self.log.append(f"{self.NAME}.post_bind {pod.name} {node_name} {pod.node_name}")


# -- PreFilter, Filter ---------------------------------------------------------------
class RejectPreFilterArgs(_Args):
    code: Literal["Unschedulable", "UnschedulableAndUnresolvable", "Error"] = "Unschedulable"
    message: str = "pod is not welcome here"


_CODES = {str(c): c for c in Code}


class RejectPreFilter:
    """Rejects every pod at PreFilter with the configured code and message, logging the call."""

    NAME: Final = "RejectPreFilter"
    SECOND: Final = "SecondRejectPreFilter"

    def __init__(self, name: str, args: RejectPreFilterArgs, handle: Handle) -> None:
        self._name = name
        self.status = Status(_CODES[args.code], (args.message,))
        self.log = log_of(handle)

    @property
    def name(self) -> str:
        return self._name

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[PreFilterResult | None, Status | None]:
        self.log.append(f"{self._name}.pre_filter {pod.name}")
        return None, self.status


def _reject_pre_filter_factory(name: str) -> Any:
    def new(args: RejectPreFilterArgs | None, handle: Handle) -> RejectPreFilter:
        return RejectPreFilter(name, args or RejectPreFilterArgs(), handle)

    return new


class OnlyNodesArgs(_Args):
    nodes: list[str] = []


class OnlyNodes:
    """A PreFilterResult naming the configured nodes (as NodeAffinity does for a nodeName)."""

    NAME: Final = "OnlyNodes"

    def __init__(self, args: OnlyNodesArgs) -> None:
        self.nodes = frozenset(args.nodes)

    @property
    def name(self) -> str:
        return self.NAME

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: NodeSet
    ) -> tuple[PreFilterResult | None, Status | None]:
        return PreFilterResult(self.nodes), None


class ExplodingFilter:
    """A Filter plugin with a bug: it raises on every node."""

    NAME: Final = "ExplodingFilter"
    MESSAGE: Final = "index out of range"

    @property
    def name(self) -> str:
        return self.NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        raise IndexError(self.MESSAGE)


class ErrorFilter:
    """A Filter plugin that reports an internal error as an Error status."""

    NAME: Final = "ErrorFilter"
    MESSAGE: Final = "disk cache unavailable"

    @property
    def name(self) -> str:
        return self.NAME

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return Status.from_error(self.MESSAGE)


class StatusRecorder:
    """A PostFilter plugin that logs the status each node failed with, and makes no room."""

    NAME: Final = "StatusRecorder"

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.log = log_of(handle)

    @property
    def name(self) -> str:
        return self.NAME

    def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: NodeToStatus
    ) -> tuple[PostFilterResult | None, Status | None]:
        for info in self.handle.snapshot.nodes:
            status = statuses.get(info.name)
            seen = "none" if status is None else f"{status.code} {status.message} [{status.plugin}]"
            self.log.append(f"{self.NAME} {pod.name} {info.name}: {seen}")
        return None, Status.unschedulable()


# -- Score ---------------------------------------------------------------------------
class FixedScoreArgs(_Args):
    score: int = 0


class FixedScore:
    """Scores every node the same configured value (no NormalizeScore)."""

    NAME: Final = "FixedScore"

    def __init__(self, args: FixedScoreArgs) -> None:
        self.value = args.score

    @property
    def name(self) -> str:
        return self.NAME

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return self.value


class OverNormalized:
    """Scores 50 everywhere, then NormalizeScore sets every node to the configured value."""

    NAME: Final = "OverNormalized"

    def __init__(self, args: FixedScoreArgs) -> None:
        self.value = args.score

    @property
    def name(self) -> str:
        return self.NAME

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return 50

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: NDArray[np.int64]
    ) -> Status | None:
        scores[:] = self.value
        return None


def _plain(cls: type, with_handle: bool = False) -> Any:
    def new(args: Any, handle: Handle) -> Any:
        return cls(handle) if with_handle else cls()

    return new


def _with_args(cls: type, args_type: type[_Args], with_handle: bool = False) -> Any:
    def new(args: Any, handle: Handle) -> Any:
        built = args or args_type()
        return cls(built, handle) if with_handle else cls(built)

    return new


SPECS: Final = (
    *(
        PluginSpec.from_class(n, RecordingReserve, _reserve_factory(n), ReserveArgs)
        for n in ("ReserveA", "ReserveB", "ReserveC")
    ),
    PluginSpec.from_class(WaitPermit.NAME, WaitPermit, _with_args(WaitPermit, WaitArgs), WaitArgs),
    PluginSpec.from_class(
        GangPermit.NAME, GangPermit, _with_args(GangPermit, GangArgs, True), GangArgs
    ),
    PluginSpec.from_class(RejectPermit.NAME, RejectPermit, _plain(RejectPermit)),
    PluginSpec.from_class(
        FlakyBinder.NAME,
        FlakyBinder,
        _with_args(FlakyBinder, FlakyBinderArgs, True),
        FlakyBinderArgs,
    ),
    PluginSpec.from_class(SkipBinder.NAME, SkipBinder, _plain(SkipBinder, True)),
    PluginSpec.from_class(PostBindRecorder.NAME, PostBindRecorder, _plain(PostBindRecorder, True)),
    *(
        PluginSpec.from_class(
            n, RejectPreFilter, _reject_pre_filter_factory(n), RejectPreFilterArgs
        )
        for n in (RejectPreFilter.NAME, RejectPreFilter.SECOND)
    ),
    PluginSpec.from_class(
        OnlyNodes.NAME, OnlyNodes, _with_args(OnlyNodes, OnlyNodesArgs), OnlyNodesArgs
    ),
    PluginSpec.from_class(StatusRecorder.NAME, StatusRecorder, _plain(StatusRecorder, True)),
    PluginSpec.from_class(ExplodingFilter.NAME, ExplodingFilter, _plain(ExplodingFilter)),
    PluginSpec.from_class(ErrorFilter.NAME, ErrorFilter, _plain(ErrorFilter)),
    PluginSpec.from_class(
        FixedScore.NAME, FixedScore, _with_args(FixedScore, FixedScoreArgs), FixedScoreArgs
    ),
    PluginSpec.from_class(
        OverNormalized.NAME,
        OverNormalized,
        _with_args(OverNormalized, FixedScoreArgs),
        FixedScoreArgs,
    ),
)


def registry() -> Registry:
    """The in-tree plugins plus every test plugin above."""
    reg = in_tree_registry()
    for spec in SPECS:
        reg.register(spec, source=SOURCE)
    return reg


# -- configuration and cluster builders ------------------------------------------------
def config(profile_yaml: str = "") -> KubeSchedulerConfiguration:
    """A configuration file: the header, then ``profile_yaml`` (top-level YAML, dedented)."""
    return load_config_text(HEADER + textwrap.dedent(profile_yaml), source="test.yaml")


def profile(plugins_yaml: str, plugin_config_yaml: str = "", extra: str = "") -> str:
    """One default-scheduler profile with the given ``plugins:`` and ``pluginConfig:`` bodies."""
    text = "profiles:\n- schedulerName: default-scheduler\n"
    if extra:
        text += textwrap.indent(textwrap.dedent(extra), "  ")
    text += "  plugins:\n" + textwrap.indent(textwrap.dedent(plugins_yaml), "    ")
    if plugin_config_yaml:
        text += "  pluginConfig:\n" + textwrap.indent(textwrap.dedent(plugin_config_yaml), "  ")
    return text


def scheduler(
    profile_yaml: str = "",
    *,
    clock: SimClock | None = None,
    **options: Any,
) -> Scheduler:
    """A scheduler on the test registry with the given configuration text."""
    return Scheduler(
        config(profile_yaml), registry=registry(), clock=clock or SimClock(), **options
    )


def node(name: str, **kwargs: Any) -> Node:
    return Node.model_validate(node_json(name, **kwargs))


def pod(name: str, **kwargs: Any) -> Pod:
    return Pod.model_validate(pod_json(name, **kwargs))


def nodes(names: Iterable[str], **kwargs: Any) -> list[Node]:
    return [node(n, **kwargs) for n in names]


def plugin_log(sched: Scheduler) -> list[str]:
    """The shared log of the default profile's test plugins."""
    return log_of(sched.profiles["default-scheduler"].handle)
