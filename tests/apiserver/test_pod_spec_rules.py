"""Pods the real API server refuses for their scheduling fields are refused here too, by field.

Each case breaks one rule of upstream ``ValidatePodSpec`` that a scheduler
plugin relies on (the scheduler itself schedules such pods without an error,
so the API is where they must stop); the 422 names the field as upstream
does. A pod using every one of those fields correctly is accepted, and a
Deployment's template is held to the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ksched.apiserver import ApiServerProcess

PODS = "/api/v1/namespaces/default/pods"
SEL = {"matchLabels": {"app": "web"}}


@pytest.fixture(scope="module")
def http(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {apiserver.token}"}
    with httpx.Client(base_url=apiserver.url, headers=headers, timeout=15) as client:
        yield client


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "nginx"}
    container.update(spec.pop("container", {}))
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


def _node_term(expr: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [expr]}]
            }
        }
    }


NODE_REQUIRED = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "negative-request",
        {"container": {"resources": {"requests": {"cpu": "-1"}}}},
        "spec.containers[0].resources.requests[cpu]",
    ),
    (
        "request-over-limit",
        {"container": {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}},
        "spec.containers[0].resources.requests",
    ),
    (
        "fractional-extended",
        {"container": {"resources": {"requests": {"example.com/gpu": "500m"}}}},
        "spec.containers[0].resources.requests[example.com/gpu]",
    ),
    (
        "extended-request-not-limit",
        {
            "container": {
                "resources": {
                    "requests": {"example.com/gpu": "1"},
                    "limits": {"example.com/gpu": "2"},
                }
            }
        },
        "spec.containers[0].resources.requests",
    ),
    (
        "host-port-range",
        {"container": {"ports": [{"containerPort": 80, "hostPort": 70000}]}},
        "spec.containers[0].ports[0].hostPort",
    ),
    (
        "port-protocol",
        {"container": {"ports": [{"containerPort": 80, "protocol": "HTTP"}]}},
        "spec.containers[0].ports[0].protocol",
    ),
    (
        "toleration-operator",
        {"tolerations": [{"key": "k", "operator": "Foo", "value": "v"}]},
        "spec.tolerations[0].operator",
    ),
    (
        "toleration-exists-with-value",
        {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
        "spec.tolerations[0].operator",
    ),
    (
        "toleration-empty-key",
        {"tolerations": [{"operator": "Equal", "value": "v"}]},
        "spec.tolerations[0].operator",
    ),
    (
        "toleration-seconds-without-noexecute",
        {
            "tolerations": [
                {"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}
            ]
        },
        "spec.tolerations[0].effect",
    ),
    ("node-selector-key", {"nodeSelector": {"bad key": "x"}}, "spec.nodeSelector"),
    (
        "node-affinity-operator",
        {"affinity": _node_term({"key": "zone", "operator": "Foo", "values": ["a"]})},
        f"{NODE_REQUIRED}.nodeSelectorTerms[0].matchExpressions[0].operator",
    ),
    (
        "node-affinity-gt-not-integer",
        {"affinity": _node_term({"key": "zone", "operator": "Gt", "values": ["x"]})},
        f"{NODE_REQUIRED}.nodeSelectorTerms[0].matchExpressions[0].values[0]",
    ),
    (
        "node-affinity-in-without-values",
        {"affinity": _node_term({"key": "zone", "operator": "In"})},
        f"{NODE_REQUIRED}.nodeSelectorTerms[0].matchExpressions[0].values",
    ),
    (
        "node-affinity-no-terms",
        {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
                }
            }
        },
        f"{NODE_REQUIRED}.nodeSelectorTerms",
    ),
    (
        "pod-affinity-no-topology-key",
        {
            "affinity": {
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": SEL}]
                }
            }
        },
        "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
    ),
    (
        "anti-affinity-weight",
        {
            "affinity": {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 0,
                            "podAffinityTerm": {"labelSelector": SEL, "topologyKey": "zone"},
                        }
                    ]
                }
            }
        },
        "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
    ),
    (
        "spread-max-skew",
        {
            "topologySpreadConstraints": [
                {"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}
            ]
        },
        "spec.topologySpreadConstraints[0].maxSkew",
    ),
    (
        "spread-action",
        {
            "topologySpreadConstraints": [
                {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "Maybe"}
            ]
        },
        "spec.topologySpreadConstraints[0].whenUnsatisfiable",
    ),
    (
        "spread-min-domains-anyway",
        {
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "zone",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "minDomains": 2,
                }
            ]
        },
        "spec.topologySpreadConstraints[0].minDomains",
    ),
    (
        "spread-selector-operator",
        {
            "topologySpreadConstraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In"}]},
                }
            ]
        },
        "spec.topologySpreadConstraints[0].labelSelector.matchExpressions[0].values",
    ),
]


@pytest.mark.parametrize(("name", "spec", "field"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_scheduling_field_is_a_422_naming_it(
    http: httpx.Client, name: str, spec: dict[str, Any], field: str
) -> None:
    response = http.post(PODS, json=_pod(name, **spec))
    assert response.status_code == 422, response.text
    status = response.json()
    assert status["reason"] == "Invalid"
    fields = [c["field"] for c in status["details"]["causes"]]
    assert field in fields, fields


def test_every_scheduling_field_used_correctly_is_accepted(http: httpx.Client) -> None:
    pod = _pod(
        "well-formed",
        container={
            "resources": {
                "requests": {"cpu": "500m", "memory": "1Gi", "example.com/gpu": "1"},
                "limits": {"cpu": "1", "example.com/gpu": "1"},
            },
            "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}],
        },
        tolerations=[
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
            {"operator": "Exists"},
            {"key": "gone", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
        ],
        nodeSelector={"kubernetes.io/os": "linux"},
        affinity={
            **_node_term({"key": "gpus", "operator": "Gt", "values": ["2"]}),
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {"labelSelector": SEL, "topologyKey": "zone"},
                    }
                ]
            },
        },
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "minDomains": 2,
                "labelSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
            }
        ],
    )
    response = http.post(PODS, json=pod)
    assert response.status_code == 201, response.text


def test_a_deployment_template_is_held_to_the_same_rules(http: httpx.Client) -> None:
    template = _pod("t", tolerations=[{"key": "k", "operator": "Foo"}])
    template["metadata"] = {"labels": {"app": "web"}}
    deployment = {
        "metadata": {"name": "bad-template"},
        "spec": {"selector": SEL, "template": template},
    }
    response = http.post("/apis/apps/v1/namespaces/default/deployments", json=deployment)
    assert response.status_code == 422, response.text
    fields = [c["field"] for c in response.json()["details"]["causes"]]
    assert "spec.template.spec.tolerations[0].operator" in fields
