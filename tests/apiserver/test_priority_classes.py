"""PriorityClasses and Priority admission, through the official ``kubernetes`` client.

A pod's priority comes from the class it names, or from the global default
class, never from the pod itself (``plugin/pkg/admission/priority``); the
class rules are upstream's (reserved ``system-`` names, the one-billion user
maximum, immutable values, one global default). The two system classes
exist from the first start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

NS = "priorities"


@pytest.fixture(scope="module")
def apis(api: client.ApiClient) -> Iterator[tuple[client.CoreV1Api, client.SchedulingV1Api]]:
    core, scheduling = client.CoreV1Api(api), client.SchedulingV1Api(api)
    core.create_namespace({"metadata": {"name": NS}})
    yield core, scheduling


def _class(name: str, value: int, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "value": value, **extra}


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
    }


def _refused(call: Any, status: int, text: str) -> None:
    with pytest.raises(ApiException) as err:
        call()
    assert err.value.status == status, err.value.body
    assert text in err.value.body, err.value.body


def test_the_system_classes_exist(apis: tuple[client.CoreV1Api, client.SchedulingV1Api]) -> None:
    _, scheduling = apis
    values = {pc.metadata.name: pc.value for pc in scheduling.list_priority_class().items}
    assert values["system-cluster-critical"] == 2_000_000_000
    assert values["system-node-critical"] == 2_000_001_000


def test_a_pod_takes_its_class_value_and_policy(
    apis: tuple[client.CoreV1Api, client.SchedulingV1Api],
) -> None:
    core, scheduling = apis
    made = scheduling.create_priority_class(_class("batch-high", 1000, preemptionPolicy="Never"))
    assert made.preemption_policy == "Never"
    pod = core.create_namespaced_pod(NS, _pod("high", priorityClassName="batch-high"))
    assert (pod.spec.priority, pod.spec.preemption_policy) == (1000, "Never")
    # Stating the same number is allowed; a different one, or another policy, is not.
    same = core.create_namespaced_pod(
        NS, _pod("same", priorityClassName="batch-high", priority=1000)
    )
    assert same.spec.priority == 1000
    _refused(
        lambda: core.create_namespaced_pod(
            NS, _pod("other", priorityClassName="batch-high", priority=5)
        ),
        403,
        "the integer value of priority (5) must not be provided in pod spec; priority admission "
        "controller computed 1000 from the given PriorityClass name",
    )
    _refused(
        lambda: core.create_namespaced_pod(
            NS,
            _pod("policy", priorityClassName="batch-high", preemptionPolicy="PreemptLowerPriority"),
        ),
        403,
        "the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided",
    )
    _refused(
        lambda: core.create_namespaced_pod(NS, _pod("nope", priorityClassName="nope")),
        403,
        "no PriorityClass with name nope was found",
    )
    # Without a class and without a default: priority 0; a stated number is refused.
    plain = core.create_namespaced_pod(NS, _pod("plain"))
    assert (plain.spec.priority, plain.spec.preemption_policy) == (0, "PreemptLowerPriority")
    _refused(lambda: core.create_namespaced_pod(NS, _pod("stated", priority=7)), 403, "computed 0")


def test_the_global_default_class_applies_and_is_unique(
    apis: tuple[client.CoreV1Api, client.SchedulingV1Api],
) -> None:
    core, scheduling = apis
    scheduling.create_priority_class(_class("everyone", 50, globalDefault=True))
    try:
        pod = core.create_namespaced_pod(NS, _pod("defaulted"))
        assert (pod.spec.priority, pod.spec.priority_class_name) == (50, "everyone")
        _refused(
            lambda: scheduling.create_priority_class(_class("second", 60, globalDefault=True)),
            403,
            "PriorityClass everyone is already marked as default. Only one default can exist",
        )
    finally:
        scheduling.delete_priority_class("everyone")
    assert core.create_namespaced_pod(NS, _pod("after")).spec.priority == 0


def test_class_rules(apis: tuple[client.CoreV1Api, client.SchedulingV1Api]) -> None:
    _, scheduling = apis
    _refused(
        lambda: scheduling.create_priority_class(_class("system-mine", 5)),
        422,
        "reserved for system use only",
    )
    _refused(
        lambda: scheduling.create_priority_class(_class("huge", 1_000_000_001)),
        422,
        "maximum allowed value of a user defined priority is 1000000000",
    )
    _refused(
        lambda: scheduling.create_priority_class(_class("odd", 5, preemptionPolicy="Sometimes")),
        422,
        "Unsupported value",
    )
    scheduling.create_priority_class(_class("fixed", 5, description="before"))
    patched = scheduling.patch_priority_class("fixed", {"description": "after"})
    assert patched.description == "after" and patched.preemption_policy == "PreemptLowerPriority"
    _refused(
        lambda: scheduling.patch_priority_class("fixed", {"value": 6}),
        422,
        "may not be changed in an update",
    )
