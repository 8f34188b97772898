"""``KubeSchedulerConfiguration`` of ``kubescheduler.config.k8s.io/v1`` as pydantic models.

Field names are the snake_case of the API's (camelCase aliases are what YAML
uses), unknown fields are refused as upstream's strict decoding does, and
scalars are strict so ``parallelism: "16"`` is an error rather than a guess.
A ``null`` reads as "unset", like a nil pointer in the Go types.

``profiles[].plugins`` holds the user's changes to the default plugins; the
merge with ``defaults.default_plugins()`` happens at resolution, so errors can
still point at the entry the user wrote.  Checks that need no plugin registry
live here; the rest are in ``resolve``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from ksched.config.errors import ConfigOrigin, FieldError
from ksched.framework.interface import ExtensionPoint

API_VERSION: Final = "kubescheduler.config.k8s.io/v1"
KIND: Final = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER_NAME: Final = "default-scheduler"
MULTI_POINT: Final = "multiPoint"

_GO_DURATION = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(text: object) -> float:
    """Seconds in a Go ``time.Duration`` string ("1m30s", "500ms"), as ``metav1.Duration`` reads."""
    if not isinstance(text, str):
        raise ValueError(f'a duration must be a string such as "15s" or "1m30s", got {text!r}')
    body = text[1:] if text[:1] in "+-" else text
    sign = -1.0 if text.startswith("-") else 1.0
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _GO_DURATION.finditer(body):
        number = match.group(1)
        if match.start() != pos or number in ("", "."):
            break
        total += float(number) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(f'invalid duration "{text}": expected e.g. "15s", "1m30s" or "500ms"')
    return sign * total


FROM_FILE: Final = {"from_file": True}
"""Validation context of ``load``: durations must then be strings, as in upstream files."""


def _duration(value: object, info: ValidationInfo) -> object:
    # Python callers pass seconds; a bare number in a file is refused, since Go
    # would read it as nanoseconds and a reader could take it for either unit.
    from_file = isinstance(info.context, Mapping) and info.context.get("from_file")
    if isinstance(value, int | float) and not isinstance(value, bool) and not from_file:
        return float(value)
    return parse_go_duration(value)


Duration = Annotated[float, BeforeValidator(_duration)]
"""Seconds; in YAML a Go duration string ("15s")."""


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: v for k, v in data.items() if v is not None}
        return data


class Plugin(_Model):
    """A plugin by registry name; ``weight`` matters only at Score (None: the default, 1)."""

    name: StrictStr = Field(min_length=1)
    weight: StrictInt | None = None


class PluginSet(_Model):
    """Plugins to add (in order) and defaults to remove (``"*"``: all) at one extension point."""

    enabled: tuple[Plugin, ...] = ()
    disabled: tuple[Plugin, ...] = ()


class Plugins(_Model):
    """Per extension point changes; ``multiPoint`` enables a plugin at every point it implements."""

    multi_point: PluginSet = PluginSet()
    pre_enqueue: PluginSet = PluginSet()
    queue_sort: PluginSet = PluginSet()
    pre_filter: PluginSet = PluginSet()
    filter: PluginSet = PluginSet()
    post_filter: PluginSet = PluginSet()
    pre_score: PluginSet = PluginSet()
    score: PluginSet = PluginSet()
    reserve: PluginSet = PluginSet()
    permit: PluginSet = PluginSet()
    pre_bind: PluginSet = PluginSet()
    bind: PluginSet = PluginSet()
    post_bind: PluginSet = PluginSet()

    def by_field(self) -> dict[str, PluginSet]:
        """Every set keyed by its YAML name, ``multiPoint`` first, then upstream's point order."""
        return {
            MULTI_POINT: self.multi_point,
            ExtensionPoint.PRE_ENQUEUE.value: self.pre_enqueue,
            ExtensionPoint.QUEUE_SORT.value: self.queue_sort,
            ExtensionPoint.PRE_FILTER.value: self.pre_filter,
            ExtensionPoint.FILTER.value: self.filter,
            ExtensionPoint.POST_FILTER.value: self.post_filter,
            ExtensionPoint.PRE_SCORE.value: self.pre_score,
            ExtensionPoint.SCORE.value: self.score,
            ExtensionPoint.RESERVE.value: self.reserve,
            ExtensionPoint.PERMIT.value: self.permit,
            ExtensionPoint.PRE_BIND.value: self.pre_bind,
            ExtensionPoint.BIND.value: self.bind,
            ExtensionPoint.POST_BIND.value: self.post_bind,
        }

    def at(self, point: ExtensionPoint) -> PluginSet:
        return self.by_field()[point.value]


class PluginConfig(_Model):
    """Arguments for one plugin, validated against the plugin's own ``Args`` model at resolution."""

    name: StrictStr = Field(min_length=1)
    args: dict[str, Any] | None = None


class KubeSchedulerProfile(_Model):
    scheduler_name: StrictStr = Field(DEFAULT_SCHEDULER_NAME, min_length=1)
    percentage_of_nodes_to_score: StrictInt | None = Field(None, ge=0, le=100)
    plugins: Plugins = Plugins()
    plugin_config: tuple[PluginConfig, ...] = ()

    @model_validator(mode="after")
    def _one_config_per_plugin(self) -> KubeSchedulerProfile:
        # Upstream: "repeated config for plugin %s"; which one wins would be a guess.
        seen: dict[str, int] = {}
        for i, cfg in enumerate(self.plugin_config):
            if cfg.name in seen:
                raise FieldError(
                    f"pluginConfig[{i}].name",
                    f'duplicate config for plugin "{cfg.name}" '
                    f"(first at pluginConfig[{seen[cfg.name]}])",
                )
            seen[cfg.name] = i
        return self


class LeaderElection(_Model):
    """Leader election (component-base); only ``leases`` locks, as upstream's validation."""

    leader_elect: StrictBool = True
    lease_duration: Duration = 15.0
    renew_deadline: Duration = 10.0
    retry_period: Duration = 2.0
    resource_lock: StrictStr = "leases"
    resource_name: StrictStr = "kube-scheduler"
    resource_namespace: StrictStr = "kube-system"

    @model_validator(mode="after")
    def _consistent(self) -> LeaderElection:
        # component-base ValidateLeaderElectionConfiguration, checked only when electing.
        if not self.leader_elect:
            return self
        for name, seconds in (
            ("leaseDuration", self.lease_duration),
            ("renewDeadline", self.renew_deadline),
            ("retryPeriod", self.retry_period),
        ):
            if seconds <= 0:
                raise FieldError(name, "must be greater than zero")
        if self.lease_duration <= self.renew_deadline:
            raise FieldError("leaseDuration", "must be greater than renewDeadline")
        if self.resource_lock != "leases":
            raise FieldError("resourceLock", 'must be "leases"')
        for name, value in (
            ("resourceName", self.resource_name),
            ("resourceNamespace", self.resource_namespace),
        ):
            if not value:
                raise FieldError(name, "is required")
        return self


class ClientConnection(_Model):
    kubeconfig: StrictStr = ""
    accept_content_types: StrictStr = ""
    content_type: StrictStr = "application/vnd.kubernetes.protobuf"
    qps: Annotated[float, Field(strict=True)] = 50.0
    burst: StrictInt = Field(100, ge=0)


def _default_profiles() -> tuple[KubeSchedulerProfile, ...]:
    return (KubeSchedulerProfile(),)


class KubeSchedulerConfiguration(_Model):
    """The scheduler's configuration file; ``default_config()`` is this with no fields set."""

    api_version: StrictStr = API_VERSION
    kind: StrictStr = KIND
    parallelism: StrictInt = Field(16, gt=0)
    percentage_of_nodes_to_score: StrictInt = Field(0, ge=0, le=100)
    """0 is adaptive: ``runtime.num_feasible_nodes_to_find`` picks a share by cluster size."""
    pod_initial_backoff_seconds: StrictInt = Field(1, gt=0)
    pod_max_backoff_seconds: StrictInt = 10
    profiles: tuple[KubeSchedulerProfile, ...] = Field(default_factory=_default_profiles)
    leader_election: LeaderElection = LeaderElection()
    client_connection: ClientConnection = ClientConnection()
    extenders: tuple[Any, ...] = ()
    # Part of v1 (debuggingConfiguration, informer start); accepted so upstream files
    # load, inert because ksched serves no pprof endpoint and starts caches eagerly.
    enable_profiling: StrictBool = True
    enable_contention_profiling: StrictBool = True
    delay_cache_until_active: StrictBool = False

    _origin: ConfigOrigin = PrivateAttr(default_factory=ConfigOrigin)

    @field_validator("api_version")
    @classmethod
    def _v1_only(cls, value: str) -> str:
        if value != API_VERSION:
            raise ValueError(f'unsupported apiVersion "{value}": ksched reads only {API_VERSION}')
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value != KIND:
            raise ValueError(f'unsupported kind "{value}": expected {KIND}')
        return value

    @field_validator("profiles")
    @classmethod
    def _at_least_one(
        cls, value: tuple[KubeSchedulerProfile, ...]
    ) -> tuple[KubeSchedulerProfile, ...]:
        # SetDefaults_KubeSchedulerConfiguration: no profiles means the default one.
        return value or _default_profiles()

    @field_validator("extenders")
    @classmethod
    def _no_extenders(cls, value: tuple[Any, ...]) -> tuple[Any, ...]:
        if value:
            raise ValueError(
                "extenders are not supported by ksched; ship the logic as a plugin "
                "(entry-point group ksched.plugins) instead"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> KubeSchedulerConfiguration:
        if self.pod_max_backoff_seconds < self.pod_initial_backoff_seconds:
            raise FieldError(
                "podMaxBackoffSeconds", "must be greater than or equal to podInitialBackoffSeconds"
            )
        seen: dict[str, int] = {}
        for i, profile in enumerate(self.profiles):
            name = profile.scheduler_name
            if name in seen:
                raise FieldError(
                    f"profiles[{i}].schedulerName",
                    f'duplicate schedulerName "{name}" (also profiles[{seen[name]}])',
                )
            seen[name] = i
        return self

    def __eq__(self, other: object) -> bool:
        # Equal when they say the same thing, wherever each was read from.
        if not isinstance(other, KubeSchedulerConfiguration):
            return NotImplemented
        return self.__dict__ == other.__dict__

    @property
    def origin(self) -> ConfigOrigin:
        """The file (and line map) this configuration was read from, for error messages."""
        return self._origin

    def with_origin(self, origin: ConfigOrigin) -> KubeSchedulerConfiguration:
        located = self.model_copy()
        located._origin = origin
        return located
