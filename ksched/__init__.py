"""ksched: a Kubernetes-style scheduling framework for research and for real clusters."""

__version__ = "0.1.0"
