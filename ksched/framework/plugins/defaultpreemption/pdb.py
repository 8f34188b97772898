"""Which preemption victims would violate a PodDisruptionBudget.

Upstream ``filterPodsWithPDBViolation`` (defaultpreemption/default_preemption.go)
and the ``metav1.LabelSelectorAsSelector`` semantics it relies on.
"""

from __future__ import annotations

from collections.abc import Sequence

from ksched.api import LabelSelector, PodDisruptionBudget
from ksched.framework.pod_info import PodInfo

__all__ = ["filter_pods_with_pdb_violation", "selector_matches"]

_SET_OPERATORS = frozenset({"In", "NotIn"})
_EXISTENCE_OPERATORS = frozenset({"Exists", "DoesNotExist"})


def selector_matches(selector: LabelSelector | None, labels: dict[str, str]) -> bool:
    """Does a PDB's selector select ``labels``?

    A nil or empty selector matches nothing here, and an invalid one (unknown
    operator, values where none belong) matches nothing, as upstream treats a
    PDB whose selector fails to parse.
    """
    if selector is None or not (selector.match_labels or selector.match_expressions):
        return False
    for key, value in selector.match_labels.items():
        if labels.get(key) != value:
            return False
    for req in selector.match_expressions:
        op = req.operator
        if op in _SET_OPERATORS:
            if not req.values:
                return False
            present = req.key in labels and labels[req.key] in req.values
            if present != (op == "In"):
                return False
        elif op in _EXISTENCE_OPERATORS:
            if req.values:
                return False
            if (req.key in labels) != (op == "Exists"):
                return False
        else:
            return False
    return True


def filter_pods_with_pdb_violation(
    pods: Sequence[PodInfo], pdbs: Sequence[PodDisruptionBudget]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """Split ``pods`` into (violating, non-violating), keeping their order.

    Each matching PDB's ``disruptionsAllowed`` is spent pod by pod, so with a
    budget of one the first matching pod is non-violating and the next ones
    violate; pods already in ``disruptedPods`` spend nothing.
    """
    allowed = [pdb.status.disruptions_allowed for pdb in pdbs]
    violating: list[PodInfo] = []
    non_violating: list[PodInfo] = []
    for pod in pods:
        violated = False
        # A pod without labels matches no PDB.
        if pod.labels:
            for i, pdb in enumerate(pdbs):
                if (pdb.metadata.namespace or "default") != pod.namespace:
                    continue
                if not selector_matches(pdb.spec.selector, pod.labels):
                    continue
                if pod.name in pdb.status.disrupted_pods:
                    continue  # the API server already counted this eviction
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else non_violating).append(pod)
    return violating, non_violating
