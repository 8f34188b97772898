"""DefaultPreemption, the in-tree PostFilter plugin (upstream ``plugins/defaultpreemption``)."""

from ksched.framework.plugins.defaultpreemption.plugin import (
    NAME,
    Args,
    DefaultPreemption,
    DefaultPreemptionArgs,
    new,
)

__all__ = ["NAME", "Args", "DefaultPreemption", "DefaultPreemptionArgs", "new"]
