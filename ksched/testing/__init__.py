"""Test kit for plugin authors: contract checks and scenario clusters."""

from ksched.testing.contract import (
    CHECKS,
    PluginUnderTest,
    as_plugin,
    check_plugin,
    parametrize_with_checks,
)
from ksched.testing.scenarios import Scenario, default_scenarios, node_json, pod_json

__all__ = [
    "CHECKS",
    "PluginUnderTest",
    "Scenario",
    "as_plugin",
    "check_plugin",
    "default_scenarios",
    "node_json",
    "parametrize_with_checks",
    "pod_json",
]
