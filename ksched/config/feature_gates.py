"""kube-scheduler's ``--feature-gates`` for the behaviours ksched models.

Upstream keeps feature gates out of ``KubeSchedulerConfiguration``: they are
a command-line flag (``--feature-gates=Name=true,Other=false``), so they are
here too.  Only gates that change what ksched does are known; naming any
other is an error, as upstream's ``unrecognized feature gate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

POP_FROM_BACKOFF_Q: Final = "SchedulerPopFromBackoffQ"
"""KEP-5142: when activeQ is empty, pop from backoffQ before the backoff ends.

Beta and on by default since Kubernetes v1.33 (pkg/features/kube_features.go).
"""

DEFAULT_FEATURE_GATES: Final[Mapping[str, bool]] = MappingProxyType({POP_FROM_BACKOFF_Q: True})
"""Each known gate's default in the Kubernetes release ksched follows."""


class FeatureGateError(ValueError):
    """A ``--feature-gates`` value that names an unknown gate or is not ``Name=bool``."""


def resolve_feature_gates(overrides: Mapping[str, bool] | None = None) -> dict[str, bool]:
    """The defaults with ``overrides`` applied; an unknown name is refused."""
    gates = dict(DEFAULT_FEATURE_GATES)
    for name, value in (overrides or {}).items():
        if name not in DEFAULT_FEATURE_GATES:
            raise FeatureGateError(
                f"unrecognized feature gate: {name} (known: {', '.join(sorted(gates))})"
            )
        gates[name] = bool(value)
    return gates


def parse_feature_gates(text: str) -> dict[str, bool]:
    """``"A=true,B=false"`` as upstream's flag parses it (``strconv.ParseBool`` values)."""
    overrides: dict[str, bool] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise FeatureGateError(f"missing bool value for {item!r}: expected Name=true|false")
        parsed = _BOOLS.get(value.strip())
        if parsed is None:
            raise FeatureGateError(
                f"invalid value of {name}={value.strip()}: expected true or false"
            )
        overrides[name] = parsed
    resolve_feature_gates(overrides)  # refuses unknown names now, where the flag is read
    return overrides


# Go's strconv.ParseBool, which upstream's feature-gate flag uses.
_BOOLS: Final = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
