"""Taint and toleration matching (k8s.io/api core/v1 ``Toleration.ToleratesTaint``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ksched.api import Taint, Toleration


def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Empty effect/key match anything; Exists ignores the value, Equal ('') compares it."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    op = toleration.operator or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return (toleration.value or "") == (taint.value or "")
    return False


def tolerates_taint(tolerations: Sequence[Toleration], taint: Taint) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(
    taints: Iterable[Taint], tolerations: Sequence[Toleration], effects: frozenset[str]
) -> Taint | None:
    """First taint with one of ``effects`` that nothing tolerates.

    Upstream v1helper.FindMatchingUntoleratedTaint.
    """
    for taint in taints:
        if taint.effect in effects and not tolerates_taint(tolerations, taint):
            return taint
    return None
