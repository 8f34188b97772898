"""Pods built once per distinct row, handed out as independent copies."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from _simdata import pods

from ksched.api import Pod, Quantity
from ksched.framework.pod_info import PodInfo
from ksched.sim import PodConversion, PodFactory
from ksched.sim.objects import _copied, pod_dict
from ksched.traces import synthetic
from ksched.traces.workload import GPU_CARD_MODEL, GPU_MILLI


def test_rows_equal_but_for_the_name_share_one_class() -> None:
    table = pods([1000, 1000, 2000, 1000], num_gpu=[1, 1, 1, 0], gpu_milli=[500, 500, 500, 0])
    factory = PodFactory(table)
    assert factory.classes.tolist() == [0, 0, 1, 2]


def test_copies_are_independent_of_each_other() -> None:
    factory = PodFactory(pods([1000, 1000]))
    a, b = factory.pod(0), factory.pod(1)
    c = factory.pod(0, "p0-tuned-0")
    assert [p.metadata.name for p in (a, b, c)] == ["p0", "p1", "p0-tuned-0"]
    a.spec.node_name = "n1"  # binding writes here
    a.metadata.annotations["x"] = "y"  # GPU-share plugins write here
    assert b.spec.node_name is None and c.spec.node_name is None
    assert "x" not in b.metadata.annotations
    assert factory.pod(1).spec == b.spec


def test_the_default_conversion_requests_the_gpu_share_and_pins_models() -> None:
    table = pods([1000], num_gpu=[2], gpu_milli=[1000], gpu_specs=["V100M16|V100M32"])
    info = PodInfo.from_pod(PodFactory(table, PodConversion(scheduler_name="packer")).pod(0))
    assert info.requests[GPU_MILLI] == 2000
    assert info.scheduler_name == "packer"
    term = info.pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution  # type: ignore[union-attr]
    expr = term.node_selector_terms[0].match_expressions[0]  # type: ignore[union-attr]
    assert (expr.key, expr.operator, expr.values) == (GPU_CARD_MODEL, "In", ["V100M16", "V100M32"])
    bare = PodFactory(
        table, PodConversion(gpu_as_extended_resource=False, gpu_model_affinity=False)
    )
    plain = bare.pod(0)
    assert GPU_MILLI not in PodInfo.from_pod(plain).requests
    assert plain.spec.affinity is None
    assert plain.metadata.annotations[GPU_MILLI] == "1000"  # Open-Gpu-Share's per-GPU share


@pytest.mark.parametrize("extended", [True, False], ids=["gpu-requested", "annotations-only"])
def test_pod_info_from_the_table_equals_the_exact_form(extended: bool) -> None:
    table = pods(
        [0, 1500, 2000, 1000],
        num_gpu=[0, 1, 4, 1],
        gpu_milli=[0, 470, 1000, 1000],
        priority=[0, 5, 0, -3],
        extended={"example.com/fpga": [0, 1, 0, 2]},
    )
    table = replace(table, memory_bytes=np.asarray([0, 3 * 2**20, 2**30 + 1, 5], np.int64))
    factory = PodFactory(table, PodConversion(gpu_as_extended_resource=extended))
    for row in range(len(table)):
        fast = factory.info(row, f"copy-{row}")
        exact = PodInfo.from_pod(factory.pod(row, f"copy-{row}"))
        for field in ("key", "uid", "namespace", "name", "priority", "labels", "requests"):
            assert getattr(fast, field) == getattr(exact, field), field
        assert list(fast.requests) == list(exact.requests)
        assert (fast.non_zero_cpu, fast.non_zero_memory) == (
            exact.non_zero_cpu,
            exact.non_zero_memory,
        )


@pytest.mark.parametrize("extended", [True, False], ids=["gpu-requested", "annotations-only"])
def test_one_off_rows_equal_their_validated_dicts(extended: bool) -> None:
    """Rows built from their shape's template are the pods validation makes of them."""
    table = synthetic(n_nodes=20, n_pods=400, seed=3, gpu_spec_share=0.3, templates=False).pods
    cpu = table.cpu_milli.copy()
    cpu[:4] = [0, 0, 1, 250]  # no request, a one-milli one: quantities of every form
    memory = table.memory_bytes.copy()
    memory[:4] = [0, 5, 2**30 + 1, 0]
    table = replace(table, cpu_milli=cpu, memory_bytes=memory)
    conversion = PodConversion(gpu_as_extended_resource=extended)
    factory = PodFactory(table, conversion)
    assert np.bincount(factory.classes).max() == 1  # every row is a one-off
    for row in range(len(table)):
        built = factory.pod(row)
        exact = Pod.model_validate(pod_dict(table, row, conversion))
        assert built == exact
        assert built.model_dump(mode="json") == exact.model_dump(mode="json")
    a, b = factory.pod(5), factory.pod(5)
    a.spec.containers[0].resources.requests["cpu"] = Quantity("1")
    assert (
        b.spec.containers[0].resources.requests
        == factory.pod(5).spec.containers[0].resources.requests
    )
    assert a.spec.containers[0].resources.requests != b.spec.containers[0].resources.requests


def test_repeats_says_whether_rows_repeat() -> None:
    assert PodFactory(pods([1000] * 4)).repeats
    assert not PodFactory(pods([1000, 2000, 3000])).repeats


def test_fast_copy_equals_pydantics_model_copy() -> None:
    """The replay's shallow copy is pydantic's ``model_copy(update=...)``, extra fields and
    which fields were set included (they decide what a dump writes)."""
    template = PodFactory(pods([1000], num_gpu=[1], gpu_milli=[500])).pod(0)
    template.metadata.__pydantic_extra__ = {"somethingNew": 1}  # an unknown field kept
    update = {"name": "renamed", "labels": {"a": "b"}}
    ours = _copied(template.metadata, update)
    theirs = template.metadata.model_copy(update=update)
    assert ours == theirs
    assert ours.model_fields_set == theirs.model_fields_set
    assert ours.model_dump(by_alias=True, exclude_unset=True) == theirs.model_dump(
        by_alias=True, exclude_unset=True
    )
    assert ours.__pydantic_extra__ is not template.metadata.__pydantic_extra__
    whole = _copied(template)
    assert whole == template.model_copy() and whole.spec is template.spec  # shallow, as theirs
