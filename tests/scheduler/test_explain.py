"""``Scheduler.explain``: every plugin's filter verdict per node, and raw/normalised/weighted scores.

The score numbers below are computed by hand from upstream's formulas:
LeastAllocated ``(alloc - req) * 100 / alloc`` averaged over cpu and memory
(least_allocated.go), BalancedAllocation ``50 + (50 + b_with - b_without) / 2``
with ``b = (1 - |f_cpu - f_mem| / 2) * 100`` with and without the pod
(balanced_allocation.go, v1.37), TaintToleration counting untolerated
PreferNoSchedule taints, reversed by DefaultNormalizeScore (taint_toleration.go).
"""

from __future__ import annotations

import json

import pytest
from _plugins import node, nodes, pod, profile, scheduler

from ksched.scheduler import Scheduler
from ksched.scheduler.explain import PASSED, NodeScore

FIT, BALANCED, TAINTS = (
    "NodeResourcesFit",
    "NodeResourcesBalancedAllocation",
    "TaintToleration",
)
SCORING = profile(
    f"""
    score:
      disabled:
      - name: '*'
      enabled:
      - name: {FIT}
        weight: 3
      - name: {BALANCED}
        weight: 2
      - name: {TAINTS}
        weight: 3
    """
)


def cluster() -> Scheduler:
    sched = scheduler(SCORING)
    sched.add_nodes(
        [
            node(
                "n1", cpu="4", memory="8Gi", taints=[{"key": "flaky", "effect": "PreferNoSchedule"}]
            ),
            node("n2", cpu="2", memory="16Gi"),
            node("n3", cpu="1", memory="1Gi"),
            node("n4", unschedulable=True),
            node("n5", cpu="1", memory="1Gi", unschedulable=True),
        ]
    )
    sched.add_pod(pod("resident", cpu="1", memory="1Gi", node_name="n1"))
    sched.add_pod(pod("p", cpu="1", memory="2Gi"))
    return sched


# n1: cpu (4-2)/4 -> 50, memory (8-3)/8 -> 62, LeastAllocated (50+62)/2 = 56;
#     fractions 0.5 and 0.375 -> 93, without the pod 0.25 and 0.125 -> 93,
#     Balanced 50 + (50 + 93 - 93) / 2 = 75; one flaky taint -> 0.
# n2: cpu (2-1)/2 -> 50, memory (16-2)/16 -> 87, LeastAllocated 68;
#     fractions 0.5 and 0.125 -> 81, without the pod 0 and 0 -> 100,
#     Balanced 50 + (50 + 81 - 100) / 2 = 65; no taint -> 100.
EXPECTED_SCORES = {
    "n1": {
        FIT: NodeScore(56, 56, 168),
        BALANCED: NodeScore(75, 75, 150),
        TAINTS: NodeScore(1, 0, 0),
    },
    "n2": {
        FIT: NodeScore(68, 68, 204),
        BALANCED: NodeScore(65, 65, 130),
        TAINTS: NodeScore(0, 100, 300),
    },
}


def test_scores_are_raw_normalized_and_weighted() -> None:
    explanation = cluster().explain("default/p")

    assert explanation.scores == EXPECTED_SCORES
    assert explanation.final_scores == {"n1": 318, "n2": 634}
    assert explanation.feasible == ["n1", "n2"]
    assert explanation.top == ["n2"]
    assert explanation.selected == "n2"
    assert explanation.error == ""


def test_the_scheduler_follows_the_explanation() -> None:
    sched = cluster()
    selected = sched.explain("default/p").selected
    (result,) = sched.run()
    assert result.node == selected


@pytest.mark.parametrize(
    ("node_name", "verdicts"),
    [
        ("n1", {}),
        ("n2", {}),
        ("n3", {FIT: "Insufficient memory"}),
        ("n4", {"NodeUnschedulable": "node(s) were unschedulable"}),
        # Unlike a cycle, explain runs every Filter on a node, not just up to the first failure.
        (
            "n5",
            {"NodeUnschedulable": "node(s) were unschedulable", FIT: "Insufficient memory"},
        ),
    ],
    ids=["n1", "n2", "n3", "n4", "n5"],
)
def test_every_filter_plugin_has_a_verdict_on_every_node(
    node_name: str, verdicts: dict[str, str]
) -> None:
    explanation = cluster().explain("default/p")
    filters = explanation.filters[node_name]

    assert set(filters) == {"NodeUnschedulable", "NodeName", TAINTS, FIT}
    assert {p: v for p, v in filters.items() if v != PASSED} == verdicts


def test_pre_filter_verdicts_name_the_skipped_plugins() -> None:
    explanation = cluster().explain("default/p")
    assert explanation.pre_filter == {
        "NodeAffinity": "skipped",
        "NodePorts": "skipped",
        FIT: PASSED,
        "PodTopologySpread": "skipped",
        "InterPodAffinity": "skipped",
    }


def test_nodes_outside_a_pre_filter_result_are_marked() -> None:
    sched = scheduler(
        profile(
            "preFilter:\n  enabled:\n  - name: OnlyNodes\n",
            "- name: OnlyNodes\n  args: {nodes: [b]}\n",
        )
    )
    sched.add_nodes(nodes(["a", "b", "c"]))

    explanation = sched.explain(pod("p"))

    assert explanation.pre_filter["OnlyNodes"] == PASSED
    assert explanation.filters["a"]["PreFilterResult"] == "node is not in the PreFilter result"
    assert "PreFilterResult" not in explanation.filters["b"]
    assert explanation.feasible == ["b"]
    assert explanation.selected == "b"


def test_pre_filter_rejection_is_the_error() -> None:
    sched = scheduler(profile("preFilter:\n  enabled:\n  - name: RejectPreFilter\n"))
    sched.add_nodes(nodes(["a", "b"]))

    explanation = sched.explain(pod("p"))

    assert explanation.pre_filter["RejectPreFilter"] == "pod is not welcome here"
    assert explanation.error == "pod is not welcome here"
    assert explanation.filters == {}
    assert explanation.scores == {}
    assert explanation.to_dict()["error"] == "pod is not welcome here"


def test_score_out_of_range_is_the_error() -> None:
    sched = scheduler(
        profile(
            "score:\n  enabled:\n  - name: OverNormalized\n",
            "- name: OverNormalized\n  args: {score: 101}\n",
        )
    )
    sched.add_nodes(nodes(["a", "b"]))

    explanation = sched.explain(pod("p"))

    assert explanation.feasible == ["a", "b"]
    assert "returns an invalid score 101" in explanation.error
    assert explanation.selected == ""


def test_ties_list_every_top_node_and_select_none() -> None:
    sched = scheduler()
    sched.add_nodes(nodes(["b", "a", "c"]))
    explanation = sched.explain(pod("p"))
    assert explanation.top == ["a", "b", "c"]
    assert explanation.selected == ""


def test_explain_changes_nothing() -> None:
    sched = cluster()
    before = (
        dict(sched.snapshot.pod_nodes),
        sched.snapshot.requested.copy(),
        sched.queue.pending_pods(),
        sched.next_start_node_index,
        sched.rng.bit_generator.state,
    )

    sched.explain("default/p")
    sched.explain(pod("other"))

    after = (
        dict(sched.snapshot.pod_nodes),
        sched.snapshot.requested.copy(),
        sched.queue.pending_pods(),
        sched.next_start_node_index,
        sched.rng.bit_generator.state,
    )
    assert before[0] == after[0]
    assert (before[1] == after[1]).all()
    assert before[2:] == after[2:]
    assert sched.bound == {"default/resident": "n1"}


@pytest.mark.parametrize(
    ("target", "error"),
    [("default/nobody", KeyError), (pod("x", schedulerName="other-scheduler"), KeyError)],
    ids=["unknown-key", "unknown-profile"],
)
def test_explain_refuses_what_it_cannot_place(target: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        cluster().explain(target)  # type: ignore[arg-type]


def test_to_dict_is_plain_json() -> None:
    data = cluster().explain("default/p").to_dict()

    assert json.loads(json.dumps(data)) == data
    assert set(data) == {
        "pod",
        "profile",
        "preFilter",
        "filter",
        "score",
        "finalScore",
        "feasible",
        "top",
        "selected",
    }
    assert data["pod"] == "default/p"
    assert data["profile"] == "default-scheduler"
    assert data["score"]["n2"][TAINTS] == {"raw": 0, "normalized": 100, "weighted": 300}
    assert data["filter"]["n4"]["NodeUnschedulable"] == "node(s) were unschedulable"
    assert data["finalScore"] == {"n1": 318, "n2": 634}
    assert data["selected"] == "n2"


def test_format_is_a_readable_report() -> None:
    text = cluster().explain("default/p").format()
    lines = text.splitlines()

    assert lines[0] == "pod default/p (profile default-scheduler)"
    assert "  PreFilter NodePorts: skipped" in lines
    filter_at = lines.index("Filter")
    score_at = lines.index("Score (raw / normalized / weighted)")
    filter_rows = {line.split()[0]: line for line in lines[filter_at + 1 : score_at - 1]}
    assert set(filter_rows) == {"n1", "n2", "n3", "n4", "n5"}
    assert filter_rows["n1"].split()[1:] == [PASSED]
    assert "NodeResourcesFit: Insufficient memory" in filter_rows["n3"]
    assert "NodeUnschedulable: node(s) were unschedulable" in filter_rows["n4"]
    header, best, second = lines[score_at + 1 : score_at + 4]
    assert header.split()[:4] == ["node", FIT, BALANCED, TAINTS]
    # Best first, marked; each cell is raw / normalized / weighted, then the total.
    assert best.split() == [
        "n2", "68", "/", "68", "/", "204", "65", "/", "65", "/", "130",
        "0", "/", "100", "/", "300", "634", "<-", "top",
    ]  # fmt: skip
    assert second.split()[0] == "n1"
    assert second.split()[-1] == "318"
