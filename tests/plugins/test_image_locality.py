"""ImageLocality against kube-scheduler's behaviour (imagelocality/image_locality_test.go).

Expected scores are worked out from upstream's formula:
``sum = Σ int(size * nodes_with_image / all_nodes)`` over the pod's
containers whose image the node holds, clamped to [23 MB, 1000 MB x
containers], then ``100 * (sum - 23 MB) // (max - 23 MB)``.  Every case runs
the per-node and the vectorised forms and checks they agree.
"""

from __future__ import annotations

import pytest

from ksched.framework.plugins import image_locality
from ksched.scheduler import Scheduler
from ksched.testing.builders import MB, make_node, make_pod, make_pod_info, make_snapshot, run_score

Images = list[tuple[str | list[str], int]]


def _scores(
    nodes: dict[str, Images], images: list[str], init_images: list[str] | None = None
) -> dict[str, int]:
    snap = make_snapshot([make_node(name, images=imgs) for name, imgs in nodes.items()])
    run = run_score(
        image_locality.new(None, None),
        make_pod_info(images=images, init_images=init_images or []),
        snap,
    )
    assert run.raw == run.normalized  # no NormalizeScore: raw scores are final
    return run.raw


CASES = [
    pytest.param(
        # 40 MB on 1/3 nodes -> 13981013; 300 MB on 2/3 -> 209715200; max 2000 MB.
        {
            "a": [("gcr.io/40:latest", 40 * MB), ("gcr.io/300:latest", 300 * MB)],
            "b": [("gcr.io/300:latest", 300 * MB), ("gcr.io/2000:latest", 2000 * MB)],
            "c": [],
        },
        ["gcr.io/40", "gcr.io/300"],
        None,
        {"a": 9, "b": 8, "c": 0},
        id="two-images-spread-scaled",
    ),
    pytest.param(
        {
            "a": [("gcr.io/2000:latest", 2000 * MB)],
            "b": [("gcr.io/2000:latest", 2000 * MB)],
            "c": [("gcr.io/2000:latest", 2000 * MB)],
        },
        ["gcr.io/2000"],
        None,
        {"a": 100, "b": 100, "c": 100},
        id="above-max-threshold-clamped",
    ),
    pytest.param(
        {"a": [("gcr.io/300:latest", 300 * MB)], "b": [("gcr.io/300:latest", 300 * MB)]},
        ["gcr.io/300"],
        None,
        {"a": 28, "b": 28},
        id="on-every-node-full-size",
    ),
    pytest.param(
        {"a": [("gcr.io/300:latest", 300 * MB)], "b": []},
        ["gcr.io/300"],
        None,
        {"a": 12, "b": 0},
        id="on-half-the-nodes-half-size",
    ),
    pytest.param(
        {"a": [("gcr.io/10:latest", 10 * MB)]},
        ["gcr.io/10"],
        None,
        {"a": 0},
        id="below-min-threshold",
    ),
    pytest.param(
        {"a": [("gcr.io/10:latest", 10 * MB)]},
        ["gcr.io/10:v1"],
        None,
        {"a": 0},
        id="tag-must-match",
    ),
    pytest.param(
        # Init and regular container each bring 250 MB on 1/2 nodes; two containers.
        {"a": [("gcr.io/250:latest", 250 * MB), ("gcr.io/init:latest", 250 * MB)], "b": []},
        ["gcr.io/250"],
        ["gcr.io/init"],
        {"a": 11, "b": 0},
        id="init-containers-count",
    ),
    pytest.param(
        {"a": [("gcr.io/500:latest", 500 * MB)]},
        ["gcr.io/500", "gcr.io/500"],
        None,
        {"a": 49},
        id="image-counted-per-container",
    ),
    pytest.param(
        {"a": [(["gcr.io/alias:latest", "gcr.io/real:1.0"], 300 * MB)], "b": []},
        ["gcr.io/real:1.0"],
        None,
        {"a": 12, "b": 0},
        id="any-name-of-an-image",
    ),
    pytest.param(
        {"a": [("gcr.io/300:latest", 300 * MB), ("gcr.io/300:latest", 300 * MB)], "b": []},
        ["gcr.io/300"],
        None,
        {"a": 12, "b": 0},
        id="listed-twice-on-one-node-counts-one-node",
    ),
    pytest.param(
        # Upstream keeps the size first reported for a name: node a's 100 MB.
        {"a": [("gcr.io/x:latest", 100 * MB)], "b": [("gcr.io/x:latest", 900 * MB)]},
        ["gcr.io/x"],
        None,
        {"a": 7, "b": 7},
        id="cluster-wide-size-first-reported",
    ),
    pytest.param(
        {"a": [("docker.io/library/nginx:latest", 500 * MB)]},
        ["nginx"],
        None,
        {"a": 0},
        id="no-registry-normalisation",
    ),
]


@pytest.mark.parametrize(("nodes", "images", "init_images", "expected"), CASES)
def test_score(
    nodes: dict[str, Images],
    images: list[str],
    init_images: list[str] | None,
    expected: dict[str, int],
) -> None:
    assert _scores(nodes, images, init_images) == expected


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        pytest.param("nginx", "nginx:latest", id="bare"),
        pytest.param("nginx:1.25", "nginx:1.25", id="tagged"),
        pytest.param(
            "localhost:5000/nginx", "localhost:5000/nginx:latest", id="registry-port-untagged"
        ),
        pytest.param(
            "localhost:5000/nginx:1.0", "localhost:5000/nginx:1.0", id="registry-port-tagged"
        ),
        pytest.param("nginx@sha256:abcd", "nginx@sha256:abcd", id="digest"),
        pytest.param(
            "gcr.io/team/app@sha256:abcd", "gcr.io/team/app@sha256:abcd", id="path-digest"
        ),
    ],
)
def test_normalized_image_name(name: str, normalized: str) -> None:
    assert image_locality.normalized_image_name(name) == normalized


def test_spread_follows_node_changes() -> None:
    snap = make_snapshot([make_node("a", images=[("gcr.io/300:latest", 300 * MB)]), make_node("b")])
    plugin, pod = image_locality.new(None, None), make_pod_info(images=["gcr.io/300"])
    assert run_score(plugin, pod, snap).raw == {"a": 12, "b": 0}
    snap.update_node(make_node("b", images=[("gcr.io/300:latest", 300 * MB)]))
    assert run_score(plugin, pod, snap).raw == {"a": 28, "b": 28}
    snap.add_node(make_node("c"))
    # 300 MB on 2 of 3 nodes: int(300 MB * 2 / 3) = 200 MB -> 100 * (200 - 23) // (1000 - 23) = 18
    assert run_score(plugin, pod, snap).raw == {"a": 18, "b": 18, "c": 0}


def test_end_to_end_default_profile() -> None:
    sched = Scheduler(tie_break="smallest-name")
    sched.add_nodes(
        [make_node("a"), make_node("b", images=[("gcr.io/model:latest", 900 * MB)]), make_node("c")]
    )
    sched.add_pod(make_pod("inference", images=["gcr.io/model"]))
    [result] = sched.run()
    assert result.node == "b"
