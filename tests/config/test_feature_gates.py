"""``--feature-gates``: upstream's flag syntax, defaults, and refusals that say why."""

from __future__ import annotations

import pytest

from ksched.config.feature_gates import (
    DEFAULT_FEATURE_GATES,
    POP_FROM_BACKOFF_Q,
    FeatureGateError,
    parse_feature_gates,
    resolve_feature_gates,
)


def test_pop_from_backoff_is_on_by_default_as_since_v1_33() -> None:
    assert DEFAULT_FEATURE_GATES[POP_FROM_BACKOFF_Q] is True
    assert resolve_feature_gates() == {POP_FROM_BACKOFF_Q: True}
    assert resolve_feature_gates({POP_FROM_BACKOFF_Q: False}) == {POP_FROM_BACKOFF_Q: False}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", {}),
        ("SchedulerPopFromBackoffQ=false", {POP_FROM_BACKOFF_Q: False}),
        (" SchedulerPopFromBackoffQ = True ,", {POP_FROM_BACKOFF_Q: True}),
        ("SchedulerPopFromBackoffQ=0", {POP_FROM_BACKOFF_Q: False}),
        ("SchedulerPopFromBackoffQ=t", {POP_FROM_BACKOFF_Q: True}),
    ],
)
def test_parse(text: str, expected: dict[str, bool]) -> None:
    assert parse_feature_gates(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NoSuchGate=true", "unrecognized feature gate: NoSuchGate"),
        ("SchedulerPopFromBackoffQ", "missing bool value for 'SchedulerPopFromBackoffQ'"),
        ("SchedulerPopFromBackoffQ=yes", "invalid value of SchedulerPopFromBackoffQ=yes"),
        ("=true", "missing bool value for '=true'"),
    ],
)
def test_bad_values_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(FeatureGateError, match=message):
        parse_feature_gates(text)
