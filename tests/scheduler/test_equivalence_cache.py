"""The equivalence cache changes speed, never decisions.

Two schedulers with the same seed, one with ``equivalence_cache=True`` and one
without, are driven through the same operations (pods from a few repeated
templates, deletions, nodes added, removed and updated between runs, time
advancing through backoffs).  Every cycle must end the same way, in the same
order, with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from _plugins import node, pod, scheduler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ksched.framework.clock import SimClock
from ksched.framework.pod_info import PodInfo
from ksched.scheduler import Scheduler, ScheduleResult

TAINTS = [
    {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
    {"key": "flaky", "effect": "PreferNoSchedule"},
]
TOLERATION = {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}

Outcome = tuple[str, str, bool, str, str]


def outcome(result: ScheduleResult) -> Outcome:
    return (
        result.pod.key,
        result.node,
        result.scheduled,
        result.nominated_node,
        result.message,
    )


@dataclass
class Twin:
    """The same scheduler twice: with and without the equivalence cache."""

    cached: Scheduler
    plain: Scheduler
    clock_cached: SimClock
    clock_plain: SimClock
    next_pod: int = 0

    @classmethod
    def build(cls, seed: int, profile_yaml: str = "") -> Twin:
        clocks = SimClock(), SimClock()
        return cls(
            scheduler(profile_yaml, clock=clocks[0], seed=seed, equivalence_cache=True),
            scheduler(profile_yaml, clock=clocks[1], seed=seed, equivalence_cache=False),
            *clocks,
        )

    @property
    def both(self) -> tuple[Scheduler, Scheduler]:
        return self.cached, self.plain

    def add_nodes(self, specs: list[dict[str, Any]]) -> None:
        for sched in self.both:
            sched.add_nodes(node(**spec) for spec in specs)

    def add_pods(self, template: dict[str, Any], count: int) -> None:
        for _ in range(count):
            name = f"pod-{self.next_pod}"
            self.next_pod += 1
            for sched in self.both:
                sched.add_pod(pod(name, **template))

    def run(self) -> list[Outcome]:
        ours = [outcome(r) for r in self.cached.run()]
        theirs = [outcome(r) for r in self.plain.run()]
        assert ours == theirs
        return ours

    def delete(self, pick: int) -> None:
        keys = sorted(self.plain.pods)
        if keys:
            key = keys[pick % len(keys)]
            for sched in self.both:
                sched.delete_pod(key)

    def remove_node(self, pick: int) -> None:
        names = sorted(self.plain.snapshot.index)
        if names:
            name = names[pick % len(names)]
            removed = [sorted(p.key for p in sched.remove_node(name)) for sched in self.both]
            assert removed[0] == removed[1]

    def update_node(self, pick: int, spec: dict[str, Any]) -> None:
        names = sorted(self.plain.snapshot.index)
        if names:
            name = names[pick % len(names)]
            for sched in self.both:
                sched.update_node(node(name, **spec))

    def advance(self, seconds: float) -> None:
        self.clock_cached.advance(seconds)
        self.clock_plain.advance(seconds)

    def assert_same_state(self) -> None:
        assert list(self.cached.bound.items()) == list(self.plain.bound.items())
        assert self.cached.failures == self.plain.failures
        assert self.cached.queue.pending_pods() == self.plain.queue.pending_pods()
        assert self.cached.next_start_node_index == self.plain.next_start_node_index
        assert self.cached.metrics == self.plain.metrics

    def cache_was_used(self) -> bool:
        fwk = self.cached.profiles["default-scheduler"]
        entries = (e for bucket in fwk.equivalence._entries.values() for e in bucket)
        return any(e.codes is not None for e in entries)


TEMPLATES: list[dict[str, Any]] = [
    {"cpu": "500m", "memory": "1Gi", "labels": {"app": "web"}},
    {"cpu": "2", "memory": "4Gi", "labels": {"app": "db"}, "priority": 100},
    {"cpu": "100m", "memory": None, "host_port": 8080},
    {"cpu": "1", "memory": "512Mi", "nodeSelector": {"disk": "ssd"}, "tolerations": [TOLERATION]},
]


def fleet(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "name": f"node-{i:03d}",
            "cpu": ["2", "4", "8"][i % 3],
            "memory": ["4Gi", "8Gi", "16Gi"][i % 3],
            "labels": {"disk": "ssd" if i % 2 else "hdd"},
            "taints": [TAINTS[i % 2]] if i % 5 == 0 else None,
            "unschedulable": i % 11 == 10,
        }
        for i in range(start, start + count)
    ]


@pytest.mark.parametrize("seed", [0, 1, 42], ids=lambda s: f"seed-{s}")
def test_replicas_of_a_few_templates(seed: int) -> None:
    twin = Twin.build(seed)
    twin.add_nodes(fleet(20))
    for template in TEMPLATES:
        twin.add_pods(template, 30)

    outcomes = twin.run()

    assert len(outcomes) == 120
    assert any(scheduled for _, _, scheduled, _, _ in outcomes)
    assert any(not scheduled for _, _, scheduled, _, _ in outcomes)
    assert twin.cache_was_used()
    twin.assert_same_state()


@pytest.mark.parametrize(
    ("n_nodes", "config_yaml"),
    [(300, ""), (250, "percentageOfNodesToScore: 20\n")],
    ids=["adaptive-48pct-of-300", "20pct-of-250"],
)
def test_partial_feasible_window_is_cut_the_same(n_nodes: int, config_yaml: str) -> None:
    twin = Twin.build(3, config_yaml)
    twin.add_nodes(fleet(n_nodes))
    for template in TEMPLATES:
        twin.add_pods(template, 60)

    outcomes = twin.run()

    assert len(outcomes) == 240
    assert twin.cache_was_used()
    twin.assert_same_state()


@pytest.mark.parametrize(
    "step",
    ["delete-pods", "add-nodes", "remove-node", "update-node-capacity", "cordon", "taint"],
)
def test_cluster_changes_between_runs(step: str) -> None:
    twin = Twin.build(seed=7)
    twin.add_nodes(fleet(30))
    for template in TEMPLATES:
        twin.add_pods(template, 25)
    twin.run()

    if step == "delete-pods":
        for pick in range(0, 60, 3):
            twin.delete(pick)
    elif step == "add-nodes":
        twin.add_nodes(fleet(10, start=30))
    elif step == "remove-node":
        twin.remove_node(4)
        twin.remove_node(11)
    elif step == "update-node-capacity":
        for pick in range(0, 30, 4):
            twin.update_node(pick, {"cpu": "16", "memory": "32Gi", "labels": {"disk": "ssd"}})
    elif step == "cordon":
        twin.update_node(2, {"unschedulable": True})
    else:
        twin.update_node(3, {"taints": TAINTS[:1], "labels": {"disk": "ssd"}})
    for template in TEMPLATES:
        twin.add_pods(template, 10)
    twin.advance(11.0)  # past any backoff
    twin.run()
    twin.advance(301.0)  # past the unschedulable pool's leftover timeout
    twin.run()

    assert twin.cache_was_used()
    twin.assert_same_state()


# -- remembered failures ---------------------------------------------------------------
def _count(sched: Scheduler, point: str = "run_pre_filter") -> list[int]:
    """Count the profile's runs of an extension point (``run_pre_filter``: a remembered
    failure skips the whole cycle)."""
    fwk = sched.profiles["default-scheduler"]
    calls = [0]
    run = getattr(fwk, point)

    def counted(*args: Any) -> Any:
        calls[0] += 1
        return run(*args)

    setattr(fwk, point, counted)
    return calls


BIG = {"cpu": "6", "memory": "1Gi", "labels": {"app": "big"}}


def test_twins_failing_back_to_back_repeat_the_first_failure() -> None:
    twin = Twin.build(seed=5)
    twin.add_nodes([{"name": f"node-{i}", "cpu": "4", "memory": "8Gi"} for i in range(6)])
    twin.add_pods({"cpu": "1", "memory": "1Gi"}, 6)
    twin.run()
    cached, plain = _count(twin.cached), _count(twin.plain)
    twin.add_pods(BIG, 5)

    outcomes = twin.run()

    assert [scheduled for _, _, scheduled, _, _ in outcomes] == [False] * 5
    assert (cached[0], plain[0]) == (1, 5)
    twin.assert_same_state()
    # A pod deleted changes the snapshot: the next retries are filtered afresh.
    twin.delete(0)
    twin.advance(11.0)
    twin.run()
    assert cached[0] == 2
    twin.assert_same_state()


def test_no_failure_is_remembered_when_preemption_could_dry_run() -> None:
    """A pod of lower priority on some node: DefaultPreemption's dry run draws at random."""
    twin = Twin.build(seed=5)
    twin.add_nodes([{"name": f"node-{i}", "cpu": "4", "memory": "8Gi"} for i in range(6)])
    twin.add_pods({"cpu": "1", "memory": "1Gi", "priority": 0}, 6)
    twin.run()
    cached = _count(twin.cached)
    twin.add_pods({**BIG, "priority": 100}, 5)

    twin.run()

    assert cached[0] == 5
    twin.assert_same_state()


@pytest.mark.parametrize("lower", [False, True], ids=["one-priority", "lower-priority-bound"])
def test_post_filter_sure_to_fail_is_not_run_when_no_message_is_read(lower: bool) -> None:
    """Without messages (a replay's setting) a PostFilter that fails whatever it is told is
    skipped; the outcome and the metrics are those of the scheduler that runs it."""
    clocks = SimClock(), SimClock()
    quiet = scheduler(clock=clocks[0], seed=3, equivalence_cache=False, explain_messages=False)
    told = scheduler(clock=clocks[1], seed=3, equivalence_cache=False)
    small = {"cpu": "1", "memory": "1Gi", **({"priority": 0} if lower else {})}
    big = {"cpu": "6", "memory": "1Gi", **({"priority": 100} if lower else {})}
    runs = []
    for sched in (quiet, told):
        sched.add_nodes(node(f"node-{i}", cpu="4", memory="8Gi") for i in range(4))
        sched.add_pods(pod(f"small-{i}", **small) for i in range(4))
        sched.run()
        calls = _count(sched, "run_post_filter")
        sched.add_pods(pod(f"big-{i}", **big) for i in range(3))
        runs.append(([(r.pod.key, r.scheduled, r.nominated_node) for r in sched.run()], calls[0]))
    (quiet_out, quiet_calls), (told_out, told_calls) = runs
    assert quiet_out == told_out and not any(placed for _, placed, _ in quiet_out)
    assert quiet.metrics == told.metrics and quiet.metrics.preemption_attempts >= 3
    assert told_calls == 3
    assert quiet_calls == (3 if lower else 0)


# -- random workloads ----------------------------------------------------------------
templates = st.fixed_dictionaries(
    {
        "cpu": st.sampled_from([None, "100m", "500m", "1", "3"]),
        "memory": st.sampled_from([None, "256Mi", "1Gi", "4Gi"]),
        "priority": st.sampled_from([None, 0, 100]),
    },
    optional={
        "host_port": st.sampled_from([80, 443]),
        "nodeSelector": st.just({"disk": "ssd"}),
        "tolerations": st.just([TOLERATION]),
        "labels": st.sampled_from([{"app": "a"}, {"app": "b"}]),
    },
)
node_changes = st.fixed_dictionaries(
    {},
    optional={
        "cpu": st.sampled_from(["1", "2", "8"]),
        "memory": st.sampled_from(["2Gi", "8Gi"]),
        "labels": st.sampled_from([{"disk": "ssd"}, {"disk": "hdd"}]),
        "taints": st.sampled_from([None, TAINTS[:1], TAINTS[1:]]),
        "unschedulable": st.booleans(),
        "pods": st.integers(1, 8),
    },
)
operations = st.one_of(
    st.tuples(st.just("pods"), st.integers(0, 3), st.integers(1, 12)),
    st.tuples(st.just("run")),
    st.tuples(st.just("delete"), st.integers(0, 1000)),
    st.tuples(st.just("add-node"), st.integers(1, 3)),
    st.tuples(st.just("remove-node"), st.integers(0, 1000)),
    st.tuples(st.just("update-node"), st.integers(0, 1000), node_changes),
    st.tuples(st.just("advance"), st.sampled_from([1.0, 10.0, 301.0])),
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    seed=st.integers(0, 2**16),
    pod_templates=st.lists(templates, min_size=4, max_size=4),
    n_nodes=st.integers(1, 12),
    ops=st.lists(operations, max_size=25),
    one_priority=st.booleans(),
)
def test_random_workloads_decide_the_same(
    seed: int,
    pod_templates: list[dict[str, Any]],
    n_nodes: int,
    ops: list[tuple[Any, ...]],
    one_priority: bool,
) -> None:
    if one_priority:
        # No pod of lower priority anywhere: failures are remembered (with mixed priorities
        # DefaultPreemption's dry run rules that out).
        pod_templates = [{**t, "priority": None} for t in pod_templates]
    twin = Twin.build(seed)
    twin.add_nodes(fleet(n_nodes))
    added = n_nodes
    for op in [*ops, ("run",)]:
        kind = op[0]
        if kind == "pods":
            twin.add_pods(pod_templates[op[1]], op[2])
        elif kind == "run":
            twin.run()
        elif kind == "delete":
            twin.delete(op[1])
        elif kind == "add-node":
            twin.add_nodes(fleet(op[1], start=added))
            added += op[1]
        elif kind == "remove-node":
            twin.remove_node(op[1])
        elif kind == "update-node":
            twin.update_node(op[1], op[2])
        else:
            twin.advance(op[1])
    twin.assert_same_state()


def _api_stamped(name: str, token_volume: str, **extra_volume: Any) -> Any:
    """A pod as an API server returns it: a service-account token volume named per pod."""
    from ksched.api import Pod
    from ksched.framework.pod_info import PodInfo

    volumes: list[dict[str, Any]] = [{"name": token_volume, "projected": {"sources": []}}]
    if extra_volume:
        volumes.append({"name": "data", **extra_volume})
    spec = {
        "containers": [
            {
                "name": "c",
                "image": "pause",
                "resources": {"requests": {"cpu": "100m"}},
                "volumeMounts": [{"name": token_volume, "mountPath": "/var/run/secrets"}],
            }
        ],
        "volumes": volumes,
    }
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
    return PodInfo.from_pod(Pod.model_validate(doc))


def test_per_pod_token_volumes_do_not_split_a_class() -> None:
    from ksched.framework.equivalence import EquivalenceCache

    cache = EquivalenceCache()
    first = cache.lookup(_api_stamped("a", "kube-api-access-abcde"))
    assert cache.lookup(_api_stamped("b", "kube-api-access-fghij")) is first
    claim = {"persistentVolumeClaim": {"claimName": "x"}}
    assert cache.lookup(_api_stamped("c", "kube-api-access-klmno", **claim)) is not first


def _info(name: str, cpu: str, **kw: Any) -> PodInfo:
    from ksched.framework.pod_info import PodInfo

    return PodInfo.from_pod(pod(name, cpu=cpu, **kw))


def test_one_off_classes_evict_each_other_and_never_a_retried_one() -> None:
    """Retried pods outnumbering ``capacity`` keep their classes while one-off pods pass."""
    from ksched.framework.equivalence import EquivalenceCache

    cache = EquivalenceCache(capacity=3)
    retried = []
    for i in range(8):  # each seen twice in a row: eight classes in the second tier
        retried.append(cache.lookup(_info(f"r{i}", f"{10 + i}m")))
        assert cache.lookup(_info(f"r{i}-again", f"{10 + i}m")) is retried[-1]
    for i in range(50):
        cache.lookup(_info(f"once-{i}", f"{100 + i}m"))
        assert len(cache) <= 8 + 3
    for i, entry in enumerate(retried):
        assert cache.lookup(_info(f"r{i}-third", f"{10 + i}m")) is entry
        assert entry.seen == 3
    assert cache.lookup(_info("once-again-0", "100m")).seen == 1  # evicted long ago: new class
    # Same pre-key (requests), different labels: both live in one bucket; evicting one keeps the
    # other.
    a = cache.lookup(_info("a", "7m", labels={"x": "a"}))
    b = cache.lookup(_info("b", "7m", labels={"x": "b"}))
    assert a is not b
    for i in range(3):
        cache.lookup(_info(f"filler-{i}", f"{900 + i}m"))
    assert cache.lookup(_info("b2", "7m", labels={"x": "b"})).seen == 1  # a new class
    assert cache.lookup(_info("b3", "7m", labels={"x": "b"})).seen == 2


def test_a_retried_pod_is_found_again_only_while_it_is_still_of_its_class() -> None:
    """The same PodInfo looked up again skips the spec comparison, not what may change."""
    from ksched.framework.equivalence import EquivalenceCache

    cache = EquivalenceCache(annotation_keys=frozenset({"gpu/index"}))
    entry = cache.lookup(_info("representative", "5m", labels={"x": "a"}))
    first = _info("a", "5m", labels={"x": "a"})
    assert cache.lookup(first) is entry
    assert cache.lookup(first) is entry and entry.seen == 3
    first.pod.metadata.annotations["gpu/index"] = "1"  # as a GPU-share Reserve writes
    moved = cache.lookup(first)
    assert moved is not entry and moved.seen == 1
    del first.pod.metadata.annotations["gpu/index"]
    assert cache.lookup(first) is entry
    first.pod.metadata.labels["x"] = "b"  # relabelled in place
    assert cache.lookup(first) is not entry
    first.pod.metadata.labels["x"] = "a"
    first.pod.spec.node_name = "node-1"  # bound
    assert cache.lookup(first) is not entry
    first.pod.spec.node_name = None  # binding failed
    assert cache.lookup(first) is entry
    cache.clear()  # the class is no longer held: the pod finds or makes a held one
    again = cache.lookup(first)
    assert again is not entry and again.seen == 1
    assert cache.lookup(_info("twin", "5m", labels={"x": "a"})) is again
    assert cache.lookup(first) is again and again.seen == 3


def test_retried_classes_go_least_recent_first_when_their_arrays_pass_the_budget() -> None:
    from ksched.framework.equivalence import EquivalenceCache

    cache = EquivalenceCache(capacity=100, budget=10_000)
    entries = []
    for i in range(3):
        entry = cache.lookup(_info(f"p{i}", f"{10 + i}m"))
        entry.codes = np.zeros(1000, dtype=np.uint8)  # as find_feasible_cached fills it
        assert cache.lookup(_info(f"p{i}-again", f"{10 + i}m")) is entry
        entries.append(entry)
    # Four bytes per node each (codes, who, fits): the third passed 10,000, so the first went.
    assert cache.lookup(_info("p0-back", "10m")) is not entries[0]
    assert cache.lookup(_info("p2-back", "12m")) is entries[2]
    assert cache.lookup(_info("p1-back", "11m")) is entries[1]


def test_arrays_built_after_a_lookup_count_at_the_next_one() -> None:
    """The cycle fills a class's arrays after its lookup: a pod placed then is counted too."""
    from ksched.framework.equivalence import EquivalenceCache

    cache = EquivalenceCache(capacity=100, budget=10_000)
    entries = []
    for i in range(3):
        cache.lookup(_info(f"q{i}", f"{10 + i}m"))
        entry = cache.lookup(_info(f"q{i}-again", f"{10 + i}m"))
        entry.codes = np.zeros(1000, dtype=np.uint8)  # then its cycle fills it; never seen again
        entries.append(entry)
    cache.lookup(_info("other", "99m"))  # counts the third class's 4,000 bytes: 12,000 in all
    assert cache.lookup(_info("q0-back", "10m")) is not entries[0]
    assert cache.lookup(_info("q1-back", "11m")) is entries[1]


def _annotated(name: str, **annotations: str) -> PodInfo:
    from ksched.api.pod import Pod
    from ksched.testing.scenarios import pod_json

    doc = pod_json(name, cpu="1")
    doc["metadata"]["annotations"] = annotations
    return PodInfo.from_pod(Pod.model_validate(doc))


class _Reads:
    node_local = True

    def __init__(self, keys: frozenset[str] | None) -> None:
        if keys is not None:
            self.pod_annotations = keys


def test_only_annotations_a_node_local_plugin_reads_split_a_class() -> None:
    from ksched.framework.equivalence import EquivalenceCache, read_annotations
    from ksched.framework.plugins.gpushare import GPU_ANNOTATIONS, GPU_MILLI

    gpu = read_annotations([_Reads(frozenset()), _Reads(GPU_ANNOTATIONS)])
    assert gpu == GPU_ANNOTATIONS
    cache = EquivalenceCache(annotation_keys=gpu)
    first = cache.lookup(_annotated("a", **{GPU_MILLI: "500", "run-for": "3"}))
    assert cache.lookup(_annotated("b", **{GPU_MILLI: "500", "run-for": "9"})) is first
    assert cache.lookup(_annotated("c", **{GPU_MILLI: "300", "run-for": "3"})) is not first
    # One node_local plugin that does not say what it reads: every annotation counts.
    assert read_annotations([_Reads(GPU_ANNOTATIONS), _Reads(None)]) is None
    assert read_annotations([object()]) == frozenset()  # not node_local: the cache is off
    cache = EquivalenceCache(annotation_keys=None)
    first = cache.lookup(_annotated("a", **{GPU_MILLI: "500", "run-for": "3"}))
    assert cache.lookup(_annotated("b", **{GPU_MILLI: "500", "run-for": "9"})) is not first


def test_default_profile_shares_classes_across_an_annotation_it_does_not_read() -> None:
    """Each pod's own run-time annotation (as ``ksched replay --through-api`` stamps)."""
    twin = Twin.build(5)
    twin.add_nodes(fleet(20))
    for i in range(60):
        template = TEMPLATES[i % 2]
        for sched in twin.both:
            doc = pod(f"pod-{i}", **template)
            doc.metadata.annotations = {"ksched.io/duration-seconds": f"{i}.5"}
            sched.add_pod(doc)
    assert len(twin.run()) == 60
    fwk = twin.cached.profiles["default-scheduler"]
    assert fwk.equivalence.annotation_keys == frozenset()
    assert len(fwk.equivalence) == 2
    assert twin.cache_was_used()
    twin.assert_same_state()
