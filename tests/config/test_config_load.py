"""Loading ``KubeSchedulerConfiguration`` YAML: defaults, parsing, refusals and their location."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksched.config import (
    API_VERSION,
    ConfigError,
    KubeSchedulerConfiguration,
    KubeSchedulerProfile,
    default_config,
    load_config,
    load_config_text,
    parse_config,
)
from ksched.config.types import parse_go_duration

HEADER = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"], ids=str.strip)
def test_empty_file_means_defaults(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    cfg = load_config(path)
    assert cfg == default_config()
    assert cfg.origin.source == str(path)


def test_default_values_are_upstreams() -> None:
    cfg = default_config()
    assert cfg.api_version == API_VERSION
    assert (cfg.parallelism, cfg.percentage_of_nodes_to_score) == (16, 0)
    assert (cfg.pod_initial_backoff_seconds, cfg.pod_max_backoff_seconds) == (1, 10)
    (profile,) = cfg.profiles
    assert profile.scheduler_name == "default-scheduler"
    assert profile.percentage_of_nodes_to_score is None
    le = cfg.leader_election
    assert (le.lease_duration, le.renew_deadline, le.retry_period) == (15.0, 10.0, 2.0)
    assert (le.resource_lock, le.resource_name, le.resource_namespace) == (
        "leases",
        "kube-scheduler",
        "kube-system",
    )
    assert (cfg.client_connection.qps, cfg.client_connection.burst) == (50.0, 100)


def test_fields_read_from_camel_case_and_set_by_snake_case() -> None:
    cfg = load_config_text(
        HEADER
        + """\
parallelism: 4
percentageOfNodesToScore: 40
podInitialBackoffSeconds: 2
podMaxBackoffSeconds: 20
leaderElection:
  leaderElect: false
  leaseDuration: 1m30s
  renewDeadline: 500ms
  resourceName: ksched
clientConnection:
  kubeconfig: /etc/kube/config
  qps: 20
  burst: 40
enableProfiling: false
profiles:
  - schedulerName: a
    percentageOfNodesToScore: 70
  - schedulerName: b
"""
    )
    assert cfg == KubeSchedulerConfiguration(
        parallelism=4,
        percentage_of_nodes_to_score=40,
        pod_initial_backoff_seconds=2,
        pod_max_backoff_seconds=20,
        leader_election={
            "leader_elect": False,
            "lease_duration": 90.0,
            "renew_deadline": 0.5,
            "resource_name": "ksched",
        },
        client_connection={"kubeconfig": "/etc/kube/config", "qps": 20.0, "burst": 40},
        enable_profiling=False,
        profiles=(
            KubeSchedulerProfile(scheduler_name="a", percentage_of_nodes_to_score=70),
            KubeSchedulerProfile(scheduler_name="b"),
        ),
    )
    assert cfg.origin.source == "<string>"


@pytest.mark.parametrize(
    "body",
    ["profiles: []\n", "profiles:\n", "profiles: null\nparallelism: null\n"],
    ids=["empty-list", "empty-value", "null"],
)
def test_no_profiles_or_null_means_default(body: str) -> None:
    cfg = load_config_text(HEADER + body)
    assert cfg.profiles == default_config().profiles
    assert cfg.parallelism == 16


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("15s", 15.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1.5h", 5400.0),
        ("2h45m", 9900.0),
        ("250us", 0.00025),
        ("0", 0.0),
        ("-2s", -2.0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "15", "s", "1x", "1s2", "1 s", 15])
def test_bad_go_durations(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_go_duration(text)


REFUSALS = [
    pytest.param(
        "apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n",
        1,
        "apiVersion",
        'unsupported apiVersion "kubescheduler.config.k8s.io/v1beta3": '
        "ksched reads only kubescheduler.config.k8s.io/v1",
        id="wrong-api-version",
    ),
    pytest.param(
        "kind: KubeSchedulerConfiguration\nparallelism: 2\n",
        None,
        "apiVersion",
        "required field is missing: set apiVersion: kubescheduler.config.k8s.io/v1",
        id="missing-api-version",
    ),
    pytest.param(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeProxyConfiguration\n",
        2,
        "kind",
        'unsupported kind "KubeProxyConfiguration": expected KubeSchedulerConfiguration',
        id="wrong-kind",
    ),
    pytest.param(
        HEADER + "parallelism: 4\nhealthzBindAddress: 0.0.0.0:10251\n",
        4,
        "healthzBindAddress",
        'unknown field "healthzBindAddress"',
        id="unknown-top-level-field",
    ),
    pytest.param(
        HEADER + "profiles:\n  - schedulerName: a\n    plugin:\n      score: {}\n",
        5,
        "profiles[0].plugin",
        'unknown field "plugin"',
        id="unknown-nested-field",
    ),
    pytest.param(
        HEADER + "extenders:\n  - urlPrefix: http://127.0.0.1:8888\n    filterVerb: filter\n",
        3,
        "extenders",
        "extenders are not supported by ksched",
        id="extenders",
    ),
    pytest.param(
        HEADER + 'parallelism: "16"\n',
        3,
        "parallelism",
        "Input should be a valid integer (got '16')",
        id="strict-int",
    ),
    pytest.param(
        HEADER + "parallelism: 0\n",
        3,
        "parallelism",
        "Input should be greater than 0",
        id="parallelism-0",
    ),
    pytest.param(
        HEADER + "profiles:\n  - percentageOfNodesToScore: 101\n",
        4,
        "profiles[0].percentageOfNodesToScore",
        "Input should be less than or equal to 100",
        id="percentage-101",
    ),
    pytest.param(
        HEADER + "podInitialBackoffSeconds: 5\npodMaxBackoffSeconds: 2\n",
        4,
        "podMaxBackoffSeconds",
        "must be greater than or equal to podInitialBackoffSeconds",
        id="backoff-order",
    ),
    pytest.param(
        HEADER + "leaderElection:\n  resourceLock: endpointsleases\n",
        4,
        "leaderElection.resourceLock",
        'must be "leases"',
        id="resource-lock",
    ),
    pytest.param(
        HEADER + "leaderElection:\n  leaseDuration: 10s\n",
        4,
        "leaderElection.leaseDuration",
        "must be greater than renewDeadline",
        id="lease-not-longer-than-renew",
    ),
    pytest.param(
        HEADER + "leaderElection:\n  retryPeriod: 2 seconds\n",
        4,
        "leaderElection.retryPeriod",
        'invalid duration "2 seconds"',
        id="bad-duration",
    ),
    pytest.param(
        HEADER + "profiles:\n  - plugins:\n      score:\n        enabled:\n          - weight: 2\n",
        7,
        "profiles[0].plugins.score.enabled[0].name",
        "required field is missing",
        id="plugin-without-name",
    ),
    pytest.param(
        HEADER + "parallelism: 2\nparallelism: 3\n",
        4,
        "parallelism",
        'duplicate field "parallelism" (first at line 3)',
        id="duplicate-key",
    ),
    pytest.param(
        "- apiVersion: kubescheduler.config.k8s.io/v1\n",
        None,
        "",
        "expected a KubeSchedulerConfiguration mapping, got list",
        id="not-a-mapping",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "reason"), REFUSALS)
def test_refusals_name_file_line_field_and_reason(
    tmp_path: Path, text: str, line: int | None, field: str, reason: str
) -> None:
    path = tmp_path / "scheduler-config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    where = f"{path}:{line}" if line is not None else str(path)
    located = f"{where}: {field}: " if field else f"{where}: "
    message = str(info.value)
    assert message.startswith(located)
    assert reason in message
    assert "pydantic" not in message


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        pytest.param(
            HEADER + "profiles:\n  - schedulerName: [a\n", 5, 1, "expected ','", id="flow"
        ),
        pytest.param(HEADER + "parallelism: 4\n  kind: x\n", 4, 7, "mapping values", id="indent"),
        pytest.param(HEADER + "---\nkind: x\n", 3, 1, "single document", id="two-documents"),
    ],
)
def test_malformed_yaml_reports_line_and_column(
    tmp_path: Path, text: str, line: int, column: int, reason: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}:{column}: invalid YAML: ")
    assert reason in message
    assert info.value.issues[0].line == line


def test_every_field_error_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(HEADER + "parallelism: -1\nbogus: 1\n", source="cfg.yaml")
    assert str(info.value).splitlines() == [
        "cfg.yaml:3: parallelism: Input should be greater than 0 (got -1)",
        'cfg.yaml:4: bogus: unknown field "bogus"',
    ]


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"^/no/such/file\.yaml: cannot read configuration"):
        load_config("/no/such/file.yaml")


def test_parse_config_from_data_has_no_lines() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {"apiVersion": API_VERSION, "kind": "KubeSchedulerConfiguration", "x": 1},
            source="cli",
        )
    assert str(info.value) == 'cli: x: unknown field "x"'
