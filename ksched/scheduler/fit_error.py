"""kube-scheduler's FailedScheduling message (``framework.FitError.Error``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ksched.framework.interface import NodeToStatus

NO_NODE_AVAILABLE_MSG = "0/{} nodes are available"


@dataclass(slots=True)
class Diagnosis:
    statuses: NodeToStatus
    unschedulable_plugins: set[str]
    pre_filter_msg: str = ""
    post_filter_msg: str = ""


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    """``0/N nodes are available: <sorted reason histogram>.`` then the PostFilter message.

    Reasons are counted over every failed node and sorted as strings, as upstream does.
    """
    msg = NO_NODE_AVAILABLE_MSG.format(num_all_nodes) + ":"
    if diagnosis.pre_filter_msg:
        msg += f" {diagnosis.pre_filter_msg}."
    else:
        counted = diagnosis.statuses.reason_counts()
        if counted is not None:
            counts, n_failed = counted
        else:
            counts = Counter()
            failed = diagnosis.statuses.failed_nodes()
            n_failed = len(failed)
            for node in failed:
                status = diagnosis.statuses.get(node)
                if status is not None:
                    counts.update(status.reasons)
        absent = diagnosis.statuses.absent
        if absent is not None and n_failed < num_all_nodes:
            # Nodes never evaluated (outside a PreFilterResult) read as the absent status.
            for reason in absent.reasons:
                counts[reason] += num_all_nodes - n_failed
        if counts:
            msg += " " + ", ".join(sorted(f"{n} {r}" for r, n in counts.items())) + "."
    if diagnosis.post_filter_msg:
        msg += f" {diagnosis.post_filter_msg}"
    return msg
