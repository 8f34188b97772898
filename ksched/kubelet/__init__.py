"""Simulated kubelets: many fake nodes in one process, driving pods through their phases.

In the spirit of KWOK: nodes are real Node objects with Leases, pods bound
to them go Pending -> Running -> Succeeded/Failed through ``pods/status``,
but nothing runs. Durations come from each pod's
``ksched.io/duration-seconds`` annotation (a trace replay sets it) or from
``Stages``; node failure and recovery can be injected.
"""

from ksched.kubelet.kubelet import (
    FAILURE_ANNOTATION,
    LEASE_NAMESPACE,
    UNREACHABLE_TAINT,
    FakeKubelet,
)
from ksched.kubelet.nodes import NODE_LABEL, nodes_from_flags, nodes_from_table
from ksched.kubelet.stages import (
    DURATION_ANNOTATION,
    RESULT_ANNOTATION,
    PodPlan,
    StageError,
    Stages,
)

__all__ = [
    "DURATION_ANNOTATION",
    "FAILURE_ANNOTATION",
    "LEASE_NAMESPACE",
    "NODE_LABEL",
    "RESULT_ANNOTATION",
    "UNREACHABLE_TAINT",
    "FakeKubelet",
    "PodPlan",
    "StageError",
    "Stages",
    "nodes_from_flags",
    "nodes_from_table",
]
