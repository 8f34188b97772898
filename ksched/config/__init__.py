"""Scheduler configuration: the v1 ``KubeSchedulerConfiguration``, its defaults and resolution.

``load_config`` reads a file, ``resolve_config`` turns each profile into the
ordered plugins per extension point that the framework runtime builds, and
every refusal is a ``ConfigError`` naming file, line, field and reason.
"""

from ksched.config.defaults import (
    DEFAULT_MULTI_POINT,
    default_plugins,
    effective_plugins,
    merge_plugin_set,
    merge_plugins,
)
from ksched.config.errors import ConfigError, ConfigIssue, ConfigOrigin, PluginRegistrationError
from ksched.config.load import default_config, load_config, load_config_text, parse_config
from ksched.config.registry import (
    ENTRY_POINT_GROUP,
    EntryPointLoader,
    PluginSpec,
    Registry,
    load_entry_point_plugins,
)
from ksched.config.resolve import ResolvedProfile, resolve_config, resolve_profile
from ksched.config.types import (
    API_VERSION,
    DEFAULT_SCHEDULER_NAME,
    KIND,
    ClientConnection,
    KubeSchedulerConfiguration,
    KubeSchedulerProfile,
    LeaderElection,
    Plugin,
    PluginConfig,
    Plugins,
    PluginSet,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_MULTI_POINT",
    "DEFAULT_SCHEDULER_NAME",
    "ENTRY_POINT_GROUP",
    "KIND",
    "ClientConnection",
    "ConfigError",
    "ConfigIssue",
    "ConfigOrigin",
    "EntryPointLoader",
    "KubeSchedulerConfiguration",
    "KubeSchedulerProfile",
    "LeaderElection",
    "Plugin",
    "PluginConfig",
    "PluginRegistrationError",
    "PluginSet",
    "PluginSpec",
    "Plugins",
    "Registry",
    "ResolvedProfile",
    "default_config",
    "default_plugins",
    "effective_plugins",
    "load_config",
    "load_config_text",
    "load_entry_point_plugins",
    "merge_plugin_set",
    "merge_plugins",
    "parse_config",
    "resolve_config",
    "resolve_profile",
]
