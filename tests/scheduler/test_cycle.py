"""The scheduling and binding cycle, as kube-scheduler's ``schedule_one.go`` runs it.

Failure paths (Reserve, Bind, PreFilter, plugin errors), the feasible-node
window (``percentageOfNodesToScore`` and the round-robin start), score
weighting and host selection.  Permit has its own file.
"""

from __future__ import annotations

import pytest
from _plugins import (
    FlakyBinder,
    node,
    nodes,
    plugin_log,
    pod,
    profile,
    scheduler,
)

from ksched.framework.clock import SimClock
from ksched.framework.runtime import num_feasible_nodes_to_find
from ksched.framework.status import Code
from ksched.scheduler import Scheduler

KEY = "default/p"
NO_PREEMPTION = """
postFilter:
  disabled:
  - name: DefaultPreemption
"""


def where(sched: Scheduler, key: str = KEY) -> str:
    """Which queue holds the (only) pending pod, or "bound" / "nowhere"."""
    if key in sched.bound:
        return "bound"
    pending = {name: n for name, n in sched.queue.pending_pods().items() if n}
    if key not in sched.queue:
        return "nowhere"
    assert len(pending) == 1, pending
    return next(iter(pending))


def three_reserve_plugins(failing: str, verdict: str) -> str:
    return profile(
        """
        reserve:
          enabled:
          - name: ReserveA
          - name: ReserveB
          - name: ReserveC
        """,
        f"""
        - name: {failing}
          args: {{verdict: {verdict}}}
        """,
    )


# -- Reserve ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("failing", "verdict", "reserved", "queue"),
    [
        ("ReserveA", "reject", ["ReserveA"], "unschedulable"),
        ("ReserveB", "reject", ["ReserveA", "ReserveB"], "unschedulable"),
        ("ReserveC", "reject", ["ReserveA", "ReserveB", "ReserveC"], "unschedulable"),
        ("ReserveB", "error", ["ReserveA", "ReserveB"], "backoff"),
    ],
    ids=["first-rejects", "middle-rejects", "last-rejects", "middle-errors"],
)
def test_reserve_failure_unreserves_every_plugin_in_reverse(
    failing: str, verdict: str, reserved: list[str], queue: str
) -> None:
    sched = scheduler(three_reserve_plugins(failing, verdict))
    sched.add_nodes([node("n1")])
    sched.add_pod(pod("p"))

    (result,) = sched.run()

    # Upstream runs Unreserve on every Reserve plugin, reserved or not, last first.
    assert plugin_log(sched) == [
        *(f"{name}.reserve p n1" for name in reserved),
        "ReserveC.unreserve p n1",
        "ReserveB.unreserve p n1",
        "ReserveA.unreserve p n1",
    ]
    assert not result.scheduled
    assert result.status is not None and result.status.plugin == failing
    assert sched.snapshot.node_of(KEY) is None
    assert sched.snapshot["n1"].pods == {}
    assert sched.snapshot["n1"].requested["cpu"] == 0
    assert where(sched) == queue


def test_reserve_rejection_frees_the_node_for_the_next_pod() -> None:
    sched = scheduler(three_reserve_plugins("ReserveB", "reject"))
    sched.add_nodes([node("n1", cpu="1")])
    sched.add_pod(pod("p", cpu="1"))
    sched.run()
    sched.add_pod(pod("q", cpu="1"))

    # q fits only if p's assumed 1 cpu was forgotten; ReserveB then rejects q too.
    (result,) = sched.run()
    assert result.status is not None and result.status.plugin == "ReserveB"


# -- Bind and PostBind --------------------------------------------------------------
BINDERS = """
reserve:
  enabled:
  - name: ReserveA
  - name: ReserveB
bind:
  disabled:
  - name: DefaultBinder
  enabled:
  - name: FlakyBinder
  - name: SkipBinder
  - name: DefaultBinder
postBind:
  enabled:
  - name: PostBindRecorder
"""


def test_bind_failure_unreserves_forgets_and_requeues_then_retries() -> None:
    clock = SimClock()
    sched = scheduler(profile(BINDERS), clock=clock)
    sched.add_nodes([node("n1")])
    info = sched.add_pod(pod("p"))

    (failed,) = sched.run()

    assert failed.status is not None and failed.status.code == Code.ERROR
    assert plugin_log(sched) == [
        "ReserveA.reserve p n1",
        "ReserveB.reserve p n1",
        "FlakyBinder.bind p n1",
        "ReserveB.unreserve p n1",
        "ReserveA.unreserve p n1",
    ]
    assert sched.snapshot.node_of(KEY) is None
    assert info.node_name == ""
    assert where(sched) == "backoff"
    assert sched.metrics.attempts == {"scheduled": 0, "unschedulable": 0, "error": 1}
    # podInitialBackoffSeconds, then held to the end of its 1-s ordering window (KEP-5142).
    assert sched.next_wakeup() == pytest.approx(2.0)
    clock.advance(1.0)
    assert sched.run() == []  # an error's backoff is never cut short

    plugin_log(sched).clear()
    clock.advance(1.0)
    (bound,) = sched.run()

    # FlakyBinder now skips, SkipBinder skips, DefaultBinder binds; PostBind follows.
    assert bound.scheduled and bound.node == "n1"
    assert plugin_log(sched) == [
        "ReserveA.reserve p n1",
        "ReserveB.reserve p n1",
        "FlakyBinder.bind p n1",
        "SkipBinder.bind p n1",
        "PostBindRecorder.post_bind p n1 n1",
    ]
    assert sched.bound == {KEY: "n1"}
    assert KEY not in sched.failures
    assert sched.snapshot.node_of(KEY) == "n1"


@pytest.mark.parametrize(
    ("binders", "expected_log"),
    [
        (
            ["SkipBinder", "DefaultBinder"],
            ["SkipBinder.bind p n1", "PostBindRecorder.post_bind p n1 n1"],
        ),
        (
            ["DefaultBinder", "SkipBinder"],
            ["PostBindRecorder.post_bind p n1 n1"],
        ),
    ],
    ids=["skip-then-default", "default-binds-first"],
)
def test_bind_skip_passes_to_the_next_binder_and_post_bind_follows(
    binders: list[str], expected_log: list[str]
) -> None:
    enabled = "".join(f"  - name: {b}\n" for b in binders)
    sched = scheduler(
        profile(
            "bind:\n  disabled:\n  - name: DefaultBinder\n  enabled:\n"
            + enabled
            + "postBind:\n  enabled:\n  - name: PostBindRecorder\n"
        )
    )
    sched.add_nodes([node("n1")])
    info = sched.add_pod(pod("p"))

    (result,) = sched.run()

    assert result.scheduled
    # PostBind sees the pod already bound: its spec names the node.
    assert plugin_log(sched) == expected_log
    assert info.node_name == "n1"
    assert sched.metrics.attempts["scheduled"] == 1


def test_bind_error_message_is_upstreams() -> None:
    sched = scheduler(profile(BINDERS))
    sched.add_nodes([node("n1")])
    sched.add_pod(pod("p"))
    sched.run()
    assert sched.failures[KEY] == f'running Bind plugin "FlakyBinder": {FlakyBinder.ERROR}'


# -- PreFilter ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code", ["Unschedulable", "UnschedulableAndUnresolvable"], ids=["unschedulable", "unresolvable"]
)
def test_pre_filter_rejection_is_a_fit_error_for_every_node(code: str) -> None:
    sched = scheduler(
        profile(
            """
            preFilter:
              enabled:
              - name: RejectPreFilter
            postFilter:
              disabled:
              - name: DefaultPreemption
              enabled:
              - name: StatusRecorder
            """,
            f"""
            - name: RejectPreFilter
              args: {{code: {code}, message: no room at the inn}}
            """,
        )
    )
    sched.add_nodes(nodes(["n1", "n2", "n3"]))
    sched.add_pod(pod("p"))

    (result,) = sched.run()

    assert result.message == "0/3 nodes are available: no room at the inn."
    assert result.status is not None and result.status.code == Code.UNSCHEDULABLE
    assert result.evaluated_nodes == 0
    # PostFilter is handed the PreFilter status for every node (SetAbsentNodesStatus).
    assert plugin_log(sched) == [
        "RejectPreFilter.pre_filter p",
        *(
            f"StatusRecorder p {n}: {code} no room at the inn [RejectPreFilter]"
            for n in ("n1", "n2", "n3")
        ),
    ]
    assert where(sched) == "unschedulable"
    assert sched.metrics.attempts["unschedulable"] == 1


TWO_GATES = (
    """
preFilter:
  enabled:
  - name: RejectPreFilter
  - name: SecondRejectPreFilter
"""
    + NO_PREEMPTION
)


def two_gates(first: str, second: str) -> str:
    return profile(
        TWO_GATES,
        f"""
        - name: RejectPreFilter
          args: {{code: {first}, message: first}}
        - name: SecondRejectPreFilter
          args: {{code: {second}, message: second}}
        """,
    )


def test_unresolvable_pre_filter_stops_the_pre_filter_chain() -> None:
    sched = scheduler(two_gates("UnschedulableAndUnresolvable", "Unschedulable"))
    sched.add_nodes(nodes(["n1", "n2"]))
    sched.add_pod(pod("p"))

    (result,) = sched.run()

    assert plugin_log(sched) == ["RejectPreFilter.pre_filter p"]
    assert result.message == "0/2 nodes are available: first."


def test_unschedulable_pre_filter_still_runs_the_other_pre_filters() -> None:
    sched = scheduler(two_gates("Unschedulable", "Unschedulable"))
    sched.add_nodes(nodes(["n1", "n2"]))
    sched.add_pod(pod("p"))

    (result,) = sched.run()

    assert plugin_log(sched) == [
        "RejectPreFilter.pre_filter p",
        "SecondRejectPreFilter.pre_filter p",
    ]
    assert result.message == "0/2 nodes are available: second."


def test_preemption_after_an_unschedulable_pre_filter_has_every_plugins_state() -> None:
    sched = scheduler(
        profile(
            """
            preFilter:
              disabled:
              - name: '*'
              enabled:
              - name: RejectPreFilter
              - name: NodeAffinity
              - name: NodePorts
              - name: NodeResourcesFit
              - name: PodTopologySpread
              - name: InterPodAffinity
            """
        )
    )
    sched.add_nodes(nodes(["n1", "n2"]))
    sched.add_pod(pod("low", node_name="n1", priority=0))
    sched.add_pod(pod("p", priority=100))

    (result,) = sched.run()

    assert "not found in cycle state" not in result.message


def test_pre_filter_result_restricts_the_candidate_nodes() -> None:
    sched = scheduler(
        profile(
            "preFilter:\n  enabled:\n  - name: OnlyNodes\n",
            "- name: OnlyNodes\n  args: {nodes: [n1, n3, gone]}\n",
        )
    )
    sched.add_nodes(nodes([f"n{i}" for i in range(6)]))
    sched.add_pods(pod(f"p{i}", cpu="100m") for i in range(6))

    results = sched.run()

    assert {r.node for r in results} <= {"n1", "n3"}
    assert all(r.scheduled for r in results)
    assert {(r.evaluated_nodes, r.feasible_nodes) for r in results} == {(2, 2)}


def test_pre_filter_result_of_unknown_nodes_is_a_fit_error() -> None:
    sched = scheduler(
        profile(
            "preFilter:\n  enabled:\n  - name: OnlyNodes\n" + NO_PREEMPTION,
            "- name: OnlyNodes\n  args: {nodes: [gone]}\n",
        )
    )
    sched.add_nodes(nodes(["n1", "n2", "n3"]))
    sched.add_pod(pod("p"))

    (result,) = sched.run()

    assert result.message == (
        "0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [OnlyNodes]."
    )
    assert where(sched) == "unschedulable"


# -- plugin errors ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("plugins", "plugin", "reason"),
    [
        (
            "filter:\n  enabled:\n  - name: ExplodingFilter\n",
            "ExplodingFilter",
            "index out of range",
        ),
        (
            "filter:\n  enabled:\n  - name: ErrorFilter\n",
            "ErrorFilter",
            "disk cache unavailable",
        ),
        (
            "preFilter:\n  enabled:\n  - name: RejectPreFilter\n",
            "RejectPreFilter",
            "pod is not welcome here",
        ),
        (
            "reserve:\n  enabled:\n  - name: ReserveA\n",
            "ReserveA",
            "ReserveA lost its ledger",
        ),
    ],
    ids=["filter-raises", "filter-errors", "pre-filter-errors", "reserve-errors"],
)
def test_plugin_error_sends_the_pod_to_backoff_not_away(
    plugins: str, plugin: str, reason: str
) -> None:
    clock = SimClock()
    sched = scheduler(
        profile(
            plugins,
            "- name: RejectPreFilter\n  args: {code: Error}\n"
            "- name: ReserveA\n  args: {verdict: error}\n",
        ),
        clock=clock,
    )
    sched.add_nodes(nodes(["n1", "n2"]))
    sched.add_pod(pod("p"))

    (result,) = sched.run()

    assert result.status is not None
    assert result.status.code == Code.ERROR
    assert result.status.plugin == plugin
    assert reason in result.message
    assert sched.failures[KEY] == result.message
    assert sched.metrics.attempts == {"scheduled": 0, "unschedulable": 0, "error": 1}
    assert sched.snapshot.node_of(KEY) is None
    assert where(sched) == "backoff"

    clock.advance(2.0)  # 1 s of backoff, to the end of its ordering window (KEP-5142)
    (retry,) = sched.run()  # retried after backoff, failing the same way
    assert retry.pod.key == KEY and retry.status is not None
    assert where(sched) == "backoff"


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        (
            "filter:\n  enabled:\n  - name: ErrorFilter\n",
            'running "ErrorFilter" filter plugin: disk cache unavailable',
        ),
        (
            "preFilter:\n  enabled:\n  - name: RejectPreFilter\n",
            'running PreFilter plugin "RejectPreFilter": pod is not welcome here',
        ),
        (
            "reserve:\n  enabled:\n  - name: ReserveA\n",
            'running Reserve plugin "ReserveA": ReserveA lost its ledger',
        ),
    ],
    ids=["filter", "pre-filter", "reserve"],
)
def test_plugin_error_message_is_upstreams(plugins: str, message: str) -> None:
    sched = scheduler(
        profile(
            plugins,
            "- name: RejectPreFilter\n  args: {code: Error}\n"
            "- name: ReserveA\n  args: {verdict: error}\n",
        )
    )
    sched.add_nodes(nodes(["n1"]))
    sched.add_pod(pod("p"))
    sched.run()
    assert sched.failures[KEY] == message


# -- percentageOfNodesToScore and the round-robin start ------------------------------
@pytest.mark.parametrize(
    ("percentage", "num_nodes", "expected"),
    [
        (0, 50, 50),  # fewer than 100 nodes: all of them
        (0, 99, 99),
        (0, 100, 100),  # 49% of 100 = 49, raised to the floor of 100
        (0, 1000, 420),  # 50 - 1000/125 = 42%
        (0, 5000, 500),  # 50 - 40 = 10%
        (0, 6000, 300),  # 50 - 48 = 2%, raised to 5%
        (0, 100_000, 5000),
        (10, 1000, 100),
        (5, 1000, 100),  # 50 nodes, raised to the floor of 100
        (100, 1000, 1000),
        (30, 1000, 300),
        (None, 1000, 420),  # unset behaves as 0 (adaptive)
    ],
    ids=lambda v: str(v),
)
def test_num_feasible_nodes_to_find_is_upstreams(
    percentage: int | None, num_nodes: int, expected: int
) -> None:
    assert num_feasible_nodes_to_find(percentage, num_nodes) == expected


THOUSAND = [f"n{i:04d}" for i in range(1000)]


@pytest.mark.parametrize(
    ("config_yaml", "evaluated", "starts"),
    [
        ("", 420, [420, 840, 260]),
        ("percentageOfNodesToScore: 100\n", 1000, [0, 0, 0]),
        ("percentageOfNodesToScore: 25\n", 250, [250, 500, 750]),
        (profile("{}\n", extra="percentageOfNodesToScore: 100\n"), 1000, [0, 0, 0]),
        (
            "percentageOfNodesToScore: 100\n"
            + profile("{}\n", extra="percentageOfNodesToScore: 30\n"),
            300,
            [300, 600, 900],
        ),
    ],
    ids=["adaptive-42pct", "global-100", "global-25", "profile-100", "profile-overrides-global"],
)
def test_feasible_window_and_round_robin_start(
    config_yaml: str, evaluated: int, starts: list[int]
) -> None:
    sched = scheduler(config_yaml)
    sched.add_nodes(nodes(THOUSAND))
    sched.add_pods(pod(f"p{i}", cpu="100m") for i in range(3))

    seen = []
    for _ in starts:
        result = sched.schedule_one()
        assert result is not None and result.scheduled
        seen.append((result.evaluated_nodes, result.feasible_nodes, sched.next_start_node_index))

    # nextStartNodeIndex = (start + processed) % N after every cycle.
    assert seen == [(evaluated, evaluated, start) for start in starts]


def test_round_robin_start_counts_rejected_nodes_as_processed() -> None:
    # 300 nodes, every third cordoned: 48% of 300 = 144 feasible nodes are wanted.
    sched = scheduler()
    sched.add_nodes(node(f"n{i:03d}", unschedulable=i % 3 == 2) for i in range(300))
    sched.add_pods(pod(f"p{i}", cpu="100m") for i in range(2))

    first = sched.schedule_one()
    assert first is not None
    # 144 feasible found by index 214, passing 71 cordoned nodes on the way.
    assert (first.evaluated_nodes, first.feasible_nodes) == (215, 144)
    assert sched.next_start_node_index == 215

    second = sched.schedule_one()
    assert second is not None
    # 215..299 holds 56 feasible and 29 cordoned; 88 more feasible end at index 130.
    assert (second.evaluated_nodes, second.feasible_nodes) == (216, 144)
    assert sched.next_start_node_index == (215 + 216) % 300


def test_round_robin_start_wraps_at_all_nodes_under_a_pre_filter_result() -> None:
    sched = scheduler(
        profile(
            "preFilter:\n  enabled:\n  - name: OnlyNodes\n",
            "- name: OnlyNodes\n  args: {nodes: [n1, n2, n3]}\n",
        )
    )
    sched.add_nodes(nodes([f"n{i}" for i in range(10)]))
    sched.add_pod(pod("p"))
    sched.run()
    assert sched.next_start_node_index == 3


def test_without_score_plugins_the_first_feasible_node_wins() -> None:
    sched = scheduler(profile("score:\n  disabled:\n  - name: '*'\n"))
    sched.add_nodes(nodes(["n0", "n1", "n2", "n3", "n4"]))
    sched.add_pods(pod(f"p{i}") for i in range(3))

    results = sched.run()

    assert [(r.node, r.evaluated_nodes, r.feasible_nodes) for r in results] == [
        ("n0", 1, 1),
        ("n1", 1, 1),
        ("n2", 1, 1),
    ]
    assert sched.next_start_node_index == 3


# -- scores and host selection -----------------------------------------------------------
WEIGHTED = profile(
    """
    score:
      disabled:
      - name: '*'
      enabled:
      - name: NodeResourcesFit
        weight: 3
      - name: NodeResourcesBalancedAllocation
        weight: 2
    """
)


def test_total_score_is_the_weighted_sum_and_the_best_node_wins() -> None:
    sched = scheduler(WEIGHTED)
    sched.add_nodes(
        [
            node("small", cpu="2", memory="4Gi"),
            node("big", cpu="16", memory="64Gi"),
            node("lopsided", cpu="16", memory="2Gi"),
        ]
    )
    sched.add_pod(pod("p", cpu="1", memory="1Gi"))

    explanation = sched.explain(KEY)
    for name, plugins in explanation.scores.items():
        weights = {"NodeResourcesFit": 3, "NodeResourcesBalancedAllocation": 2}
        assert {p: s.weighted for p, s in plugins.items()} == {
            p: weights[p] * s.normalized for p, s in plugins.items()
        }
        assert explanation.final_scores[name] == sum(s.weighted for s in plugins.values())

    (result,) = sched.run()
    assert explanation.selected == "big"
    assert result.node == "big"


@pytest.mark.parametrize(
    ("plugin", "value"),
    [("OverNormalized", 101), ("OverNormalized", -1), ("FixedScore", 101), ("FixedScore", -5)],
    ids=["normalized-101", "normalized-negative", "raw-101-no-normalize", "raw-negative"],
)
def test_score_out_of_range_fails_the_cycle(plugin: str, value: int) -> None:
    sched = scheduler(
        profile(
            f"score:\n  enabled:\n  - name: {plugin}\n",
            f"- name: {plugin}\n  args: {{score: {value}}}\n",
        )
    )
    sched.add_nodes(nodes(["n1", "n2"]))
    sched.add_pod(pod("p"))

    (result,) = sched.run()

    assert result.status is not None and result.status.code == Code.ERROR
    assert (
        f"returns an invalid score {value}, it should in the range of [0, 100] after normalizing"
        in result.message
    )
    assert where(sched) == "backoff"
    assert sched.snapshot.node_of(KEY) is None


def test_score_out_of_range_message_is_upstreams() -> None:
    sched = scheduler(
        profile(
            "score:\n  enabled:\n  - name: OverNormalized\n",
            "- name: OverNormalized\n  args: {score: 101}\n",
        )
    )
    sched.add_nodes(nodes(["n1", "n2"]))
    sched.add_pod(pod("p"))
    (result,) = sched.run()
    assert result.message == (
        'applying score defaultWeights on Score plugins: plugin "OverNormalized" returns an '
        "invalid score 101, it should in the range of [0, 100] after normalizing"
    )


TIED = ["n-c", "n-a", "n-d", "n-b"]


def tied_choice(seed: int, tie_break: str) -> str:
    sched = scheduler(seed=seed, tie_break=tie_break)
    sched.add_nodes(nodes(TIED))
    sched.add_pod(pod("p"))
    (result,) = sched.run()
    assert result.feasible_nodes == len(TIED)
    return result.node


def test_random_tie_break_reaches_every_tied_node() -> None:
    picks = [tied_choice(seed, "random") for seed in range(64)]
    assert set(picks) == set(TIED)
    # Uniform: no node takes more than half of 64 draws (p < 1e-6 for a fair choice).
    assert max(picks.count(n) for n in TIED) < 32


def test_random_tie_break_is_reproducible_for_a_seed() -> None:
    assert [tied_choice(7, "random") for _ in range(3)] == [tied_choice(7, "random")] * 3


@pytest.mark.parametrize("seed", [0, 1, 2, 3], ids=lambda s: f"seed-{s}")
def test_smallest_name_tie_break_picks_the_smallest_name(seed: int) -> None:
    assert tied_choice(seed, "smallest-name") == "n-a"


def test_ties_are_broken_only_among_the_best() -> None:
    sched = scheduler(tie_break="smallest-name")
    # "n-a" is full-ish, so it scores lower: the smallest name among the best is "n-b".
    sched.add_nodes(nodes(TIED))
    sched.add_pod(pod("resident", cpu="4", memory="16Gi", node_name="n-a"))
    sched.add_pod(pod("p"))
    (result,) = sched.run()
    assert result.node == "n-b"
