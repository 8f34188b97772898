"""PodTopologySpread (upstream ``plugins/podtopologyspread``)."""

from ksched.framework.plugins.podtopologyspread.plugin import (
    NAME,
    Args,
    PodTopologySpread,
    PodTopologySpreadArgs,
    new,
)

__all__ = ["NAME", "Args", "PodTopologySpread", "PodTopologySpreadArgs", "new"]
