"""InterPodAffinity, kube-scheduler's inter-pod affinity and anti-affinity plugin.

``plugin`` holds the plugin (its ``NAME``, ``Args`` and ``new``); ``filtering``
and ``scoring`` the two halves of upstream's logic; ``terms`` parses pods'
terms (``selector`` is a minimal label-selector matcher, to be replaced by
the shared helper); ``topology`` keeps the per-topology-pair counts as numpy
arrays.
"""

from ksched.framework.plugins.interpodaffinity.plugin import (
    DEFAULT_HARD_POD_AFFINITY_WEIGHT,
    ERR_REASON_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH,
    NAME,
    NAMESPACE_LABELS_KEY,
    Args,
    InterPodAffinity,
    InterPodAffinityArgs,
    new,
)

__all__ = [
    "DEFAULT_HARD_POD_AFFINITY_WEIGHT",
    "ERR_REASON_AFFINITY_RULES_NOT_MATCH",
    "ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH",
    "ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH",
    "NAME",
    "NAMESPACE_LABELS_KEY",
    "Args",
    "InterPodAffinity",
    "InterPodAffinityArgs",
    "new",
]
