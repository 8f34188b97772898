"""Every in-tree plugin passes the plugin contract kit (ksched.testing)."""

from __future__ import annotations

import pytest

from ksched.framework.plugins.registry import IN_TREE_MODULES
from ksched.testing import PluginUnderTest, Scenario, check_plugin, parametrize_with_checks
from ksched.testing.contract import Check


@parametrize_with_checks(list(IN_TREE_MODULES))
def test_in_tree_plugin_honours_the_contract(
    plugin: PluginUnderTest, scenario: Scenario, check: Check
) -> None:
    check(plugin, scenario)


FIT = "ksched.framework.plugins.noderesources.fit"
RTCR = {
    "scoringStrategy": {
        "type": "RequestedToCapacityRatio",
        "resources": [{"name": "cpu", "weight": 2}, {"name": "nvidia.com/gpu", "weight": 3}],
        "requestedToCapacityRatio": {
            "shape": [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]
        },
    }
}


@pytest.mark.parametrize(
    "args",
    [
        pytest.param({"scoringStrategy": {"type": "MostAllocated"}}, id="most-allocated"),
        pytest.param(RTCR, id="requested-to-capacity-ratio"),
        pytest.param({"ignoredResourceGroups": ["nvidia.com"]}, id="ignored-groups"),
    ],
)
def test_fit_strategies_honour_the_contract(args: dict[str, object]) -> None:
    check_plugin(FIT, args)
