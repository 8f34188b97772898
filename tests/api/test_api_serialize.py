"""Loading YAML/JSON documents, dispatch on kind, and errors that say where and why."""

from __future__ import annotations

import gc
import json

import pytest

from ksched.api import (
    KINDS,
    Binding,
    Event,
    Lease,
    Node,
    ObjectError,
    ObjectMeta,
    ObjectReference,
    Pod,
    PodDisruptionBudget,
    load_object,
    load_yaml,
    to_dict,
    to_json,
    to_yaml,
)

MANIFESTS = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  containers:
  - name: web
    image: nginx
    resources:
      requests: {cpu: 500m, memory: 1.5Gi}
      limits: {cpu: 1, memory: 2Gi}
  tolerations:
  - {key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}
---
# an empty document is skipped
---
apiVersion: v1
kind: Node
metadata: {name: n1}
status:
  allocatable: {cpu: "4", memory: 16Gi}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 50%
  selector: {matchLabels: {app: web}}
"""


def test_load_yaml_reads_every_document() -> None:
    pod, node, pdb = load_yaml(MANIFESTS)
    assert isinstance(pod, Pod) and isinstance(node, Node)
    assert isinstance(pdb, PodDisruptionBudget)
    assert pod.spec.containers[0].resources.requests["memory"].value() == 1610612736
    assert pod.spec.containers[0].resources.limits["cpu"].raw == 1
    assert pdb.spec.min_available == "50%"


def test_yaml_round_trip_keeps_the_text() -> None:
    objects = load_yaml(MANIFESTS)
    again = load_yaml(to_yaml(objects))
    assert [to_dict(o) for o in again] == [to_dict(o) for o in objects]
    assert "memory: 1.5Gi" in to_yaml(objects[0])


@pytest.mark.parametrize(
    "cls", [Pod, Node, Binding, Event, Lease, PodDisruptionBudget], ids=lambda c: c.__name__
)
def test_every_kind_dispatches(cls: type[Pod]) -> None:
    obj = cls()
    assert type(load_object(to_dict(obj))) is cls
    assert KINDS[(obj.api_version, obj.kind)] is cls


def test_json_documents() -> None:
    pod = Pod(metadata=ObjectMeta(name="a"))
    node = Node(metadata=ObjectMeta(name="n"))
    single = load_yaml(to_json(pod), "pod.json")
    assert [to_dict(o) for o in single] == [to_dict(pod)]
    array = json.dumps([to_dict(pod), to_dict(node)])
    assert [type(o) for o in load_yaml(array)] == [Pod, Node]
    assert [type(o) for o in load_yaml(to_yaml([pod, node]))] == [Pod, Node]


def test_lists_expand_to_their_items() -> None:
    typed_list = {
        "apiVersion": "v1",
        "kind": "PodList",
        "metadata": {"resourceVersion": "5"},
        "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}],
    }
    pods = load_yaml(json.dumps(typed_list))
    assert [p.metadata.name for p in pods] == ["a", "b"]
    generic = {"apiVersion": "v1", "kind": "List", "items": [to_dict(Node())]}
    assert [type(o) for o in load_yaml(json.dumps(generic))] == [Node]


def test_binding_as_the_scheduler_writes_it() -> None:
    binding = Binding(
        metadata=ObjectMeta(name="web", namespace="shop", uid="u1"),
        target=ObjectReference(api_version="v1", kind="Node", name="n1"),
    )
    assert to_dict(binding) == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u1"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "n1"},
    }


BAD = [
    pytest.param(
        MANIFESTS.replace("cpu: 500m", "cpu: 1Qi"),
        "<string>, document 0: spec.containers[0].resources.requests.cpu:"
        " invalid quantity '1Qi': unknown suffix 'Qi'",
        id="bad-quantity",
    ),
    pytest.param(
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: nginx\n",
        "document 0: spec.containers[0].name: Field required",
        id="missing-required-field",
    ),
    pytest.param(
        "apiVersion: v1\nkind: Pod\nspec:\n  priority: high\n",
        "document 0: spec.priority: Input should be a valid integer",
        id="wrong-type",
    ),
    pytest.param(
        "kind: Node\napiVersion: v1\n---\napiVersion: v1\nkind: Pod\nspec:\n  tolerations: {}\n",
        "document 1: spec.tolerations: Input should be a valid list",
        id="second-document",
    ),
    pytest.param(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nspec:\n  minAvailable: [1]\n",
        "spec.minAvailable: expected an integer or a string such as '50%', got [1]",
        id="int-or-string",
    ),
    pytest.param(
        "apiVersion: apps/v1\nkind: Deployment\n",
        "document 0: unsupported kind 'Deployment' with apiVersion 'apps/v1'",
        id="unknown-kind",
    ),
    pytest.param("kind: Pod\n", "apiVersion and kind must be given", id="missing-api-version"),
    pytest.param("just text\n", "document 0: expected a mapping, got str", id="not-a-mapping"),
    pytest.param("- 1\n- 2\n", "document 0: [0]: expected a mapping, got int", id="array-item"),
    pytest.param(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n",
        "document 0: invalid YAML at line 4, column 1: did not find expected node content",
        id="bad-yaml",
    ),
    pytest.param(
        "kind: Node\napiVersion: v1\n---\nkind: [\n",
        "document 1: invalid YAML at line 5, column 1",
        id="bad-yaml-second-document",
    ),
    pytest.param(
        json.dumps({"apiVersion": "v1", "kind": "PodList", "items": [{"spec": {"priority": "x"}}]}),
        "document 0: items[0].spec.priority: Input should be a valid integer",
        id="list-item",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_errors_name_the_document_and_field(text: str, message: str) -> None:
    with pytest.raises(ObjectError) as info:
        load_yaml(text)
    assert message in str(info.value)
    assert "pydantic" not in str(info.value)


def test_errors_name_the_source_and_every_problem() -> None:
    text = "apiVersion: v1\nkind: Pod\nspec:\n  priority: x\n  nodeName: [1]\n"
    with pytest.raises(ObjectError) as info:
        load_yaml(text, "cluster/pods.yaml")
    error = info.value
    assert str(error).startswith("cluster/pods.yaml, document 0: 2 problems\n")
    assert [path for path, _ in error.problems] == ["spec.nodeName", "spec.priority"]
    assert (error.source, error.document) == ("cluster/pods.yaml", 0)
    assert isinstance(error, ValueError)


def test_load_object_errors_without_a_source() -> None:
    with pytest.raises(ObjectError, match=r"^<object>: metadata.labels.app: Input should be"):
        load_object({"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"app": 1}}})


def test_load_yaml_restores_the_garbage_collector() -> None:
    assert gc.isenabled()
    load_yaml(MANIFESTS)
    with pytest.raises(ObjectError):
        load_yaml("apiVersion: v1\nkind: Pod\nspec: []\n")
    assert gc.isenabled()
