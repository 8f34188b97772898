"""PodTopologySpread, kube-scheduler's pod topology spread constraints plugin.

``plugin`` holds the plugin (its ``NAME``, ``Args`` and ``new``); ``common``
the parsed constraints, node inclusion and matching-pod counts; ``filtering``
and ``scoring`` the DoNotSchedule and ScheduleAnyway halves of upstream's
logic.
"""

from ksched.framework.plugins.podtopologyspread.plugin import (
    ERR_REASON_CONSTRAINTS_NOT_MATCH,
    ERR_REASON_NODE_LABEL_NOT_MATCH,
    LIST_DEFAULTING,
    NAME,
    SELECTOR_FOR_KEY,
    SYSTEM_DEFAULTING,
    Args,
    PodTopologySpread,
    PodTopologySpreadArgs,
    new,
)

__all__ = [
    "ERR_REASON_CONSTRAINTS_NOT_MATCH",
    "ERR_REASON_NODE_LABEL_NOT_MATCH",
    "LIST_DEFAULTING",
    "NAME",
    "SELECTOR_FOR_KEY",
    "SYSTEM_DEFAULTING",
    "Args",
    "PodTopologySpread",
    "PodTopologySpreadArgs",
    "new",
]
