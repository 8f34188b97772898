"""Minimal label-selector matching for pod affinity terms (apimachinery ``labels.Selector``).

Private to this package until the shared ``helper/node_selector.py`` lands.
Selectors are frozen and hashable, so per-pod match results can be cached
by selector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ksched.api import LabelSelector

Requirement = tuple[str, str, frozenset[str]]
"""(key, operator, values) with the operators of ``metav1.LabelSelectorOperator``."""

_IN, _NOT_IN, _EXISTS, _DOES_NOT_EXIST = "In", "NotIn", "Exists", "DoesNotExist"


@dataclass(frozen=True, slots=True)
class Selector:
    """A compiled selector; ``nothing`` is ``labels.Nothing()`` (a nil LabelSelector)."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.nothing:
            return False
        for key, op, values in self.requirements:
            present = key in labels
            if op == _IN:
                ok = present and labels[key] in values
            elif op == _NOT_IN:
                ok = not present or labels[key] not in values
            elif op == _EXISTS:
                ok = present
            else:
                ok = not present
            if not ok:
                return False
        return True

    def with_requirements(self, extra: tuple[Requirement, ...]) -> Selector:
        if self.nothing or not extra:
            return self
        return Selector(self.requirements + extra)


NOTHING = Selector(nothing=True)
EVERYTHING = Selector()


def compile_selector(selector: LabelSelector | None) -> Selector:
    """``metav1.LabelSelectorAsSelector``: nil matches nothing, empty matches everything.

    Raises ValueError for the requirements upstream refuses.
    """
    if selector is None:
        return NOTHING
    reqs: list[Requirement] = [(k, _IN, frozenset((v,))) for k, v in selector.match_labels.items()]
    for expr in selector.match_expressions:
        values = frozenset(expr.values)
        if expr.operator in (_IN, _NOT_IN):
            if not values:
                raise ValueError(
                    f"values: Invalid value: for 'in', 'notin' operators, values set can't be empty"
                    f" (key {expr.key!r})"
                )
        elif expr.operator in (_EXISTS, _DOES_NOT_EXIST):
            if values:
                raise ValueError(
                    f"values: Invalid value: values set must be empty for exists and does not exist"
                    f" (key {expr.key!r})"
                )
        else:
            raise ValueError(f"{expr.operator!r} is not a valid label selector operator")
        reqs.append((expr.key, expr.operator, values))
    return Selector(tuple(reqs))
