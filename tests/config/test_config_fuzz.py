"""Mutated configurations give a working scheduler or a ``ConfigError``, never another exception.

A configuration touching every default plugin's arguments (two profiles,
custom plugin sets, RequestedToCapacityRatio, default spread constraints,
added node affinity) has one to three of its values replaced by random YAML
values; loading it, resolving it and building the ``Scheduler`` (which
instantiates every plugin with its arguments) must either succeed or raise
the error the CLI prints as file, line, field and reason.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ksched.config import ConfigError, load_config_text
from ksched.scheduler.scheduler import Scheduler
from ksched.testing.json_paths import json_paths

_FIT_ARGS = {
    "ignoredResources": ["example.com/foo"],
    "ignoredResourceGroups": ["example.org"],
    "scoringStrategy": {
        "type": "RequestedToCapacityRatio",
        "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 2}],
        "requestedToCapacityRatio": {
            "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
        },
    },
}
_ADDED_AFFINITY = {
    "requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]}
        ]
    },
    "preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "a", "operator": "Exists"}]}}
    ],
}
BASE: dict[str, Any] = {
    "apiVersion": "kubescheduler.config.k8s.io/v1",
    "kind": "KubeSchedulerConfiguration",
    "percentageOfNodesToScore": 50,
    "podInitialBackoffSeconds": 1,
    "podMaxBackoffSeconds": 10,
    "leaderElection": {
        "leaderElect": True,
        "leaseDuration": "15s",
        "renewDeadline": "10s",
        "retryPeriod": "2s",
        "resourceName": "ksched",
        "resourceNamespace": "kube-system",
    },
    "clientConnection": {"qps": 50, "burst": 100},
    "profiles": [
        {
            "schedulerName": "a",
            "percentageOfNodesToScore": 0,
            "plugins": {
                "score": {
                    "enabled": [{"name": "NodeResourcesFit", "weight": 2}],
                    "disabled": [{"name": "ImageLocality"}],
                },
                "multiPoint": {"enabled": [{"name": "NodeAffinity"}]},
                "filter": {
                    "disabled": [{"name": "*"}],
                    "enabled": [{"name": "NodeResourcesFit"}, {"name": "NodeUnschedulable"}],
                },
            },
            "pluginConfig": [
                {"name": "NodeResourcesFit", "args": _FIT_ARGS},
                {
                    "name": "NodeResourcesBalancedAllocation",
                    "args": {"resources": [{"name": "cpu", "weight": 1}]},
                },
                {"name": "InterPodAffinity", "args": {"hardPodAffinityWeight": 1}},
                {
                    "name": "PodTopologySpread",
                    "args": {
                        "defaultingType": "List",
                        "defaultConstraints": [
                            {
                                "maxSkew": 1,
                                "topologyKey": "zone",
                                "whenUnsatisfiable": "ScheduleAnyway",
                            }
                        ],
                    },
                },
                {
                    "name": "DefaultPreemption",
                    "args": {"minCandidateNodesPercentage": 10, "minCandidateNodesAbsolute": 100},
                },
                {"name": "NodeAffinity", "args": {"addedAffinity": _ADDED_AFFINITY}},
                {"name": "VolumeBinding", "args": {"bindTimeoutSeconds": 600}},
            ],
        },
        {"schedulerName": "b", "plugins": {"queueSort": {"enabled": [{"name": "PrioritySort"}]}}},
    ],
}
# Values a user might plausibly write in the wrong place, and random ones.
_WORDS = ["cpu", "memory", "*", "NodeResourcesFit", "MostAllocated", "In", "1s", "-1s", ""]
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(_WORDS),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)


PATHS = [p for p in json_paths(BASE) if p]


def test_the_base_configuration_builds() -> None:
    scheduler = Scheduler(load_config_text(yaml.safe_dump(BASE), "base.yaml"))
    assert sorted(scheduler.profiles) == ["a", "b"]


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_a_mutated_configuration_builds_or_is_refused_clearly(
    mutations: list[tuple[tuple[Any, ...], Any]],
) -> None:
    obj = copy.deepcopy(BASE)
    for path, value in mutations:
        node: Any = obj
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced the container
    try:
        Scheduler(load_config_text(yaml.safe_dump(obj), "mutated.yaml"))
    except ConfigError as exc:
        assert str(exc).startswith("mutated.yaml")
