"""Cluster traces as one columnar workload format: loaders, a generator, manifests, fetching.

Every reader returns a ``Workload`` (numpy columns for nodes and pods, built
into ``ksched.api`` objects only on demand) and refuses a bad file with a
``TraceFormatError`` naming the file, line, column and reason. Submodules are
implementation detail: import from here.
"""

from ksched.traces.alibaba2018 import load_alibaba2018
from ksched.traces.borg2019 import load_borg2019
from ksched.traces.dlrm2025 import load_dlrm2025, read_dlrm2025
from ksched.traces.errors import (
    ChecksumMismatchError,
    TraceFetchError,
    TraceFormatError,
    TraceRegistryError,
)
from ksched.traces.fetch import default_cache_dir, fetch, verify
from ksched.traces.manifest import (
    Manifest,
    ManifestFile,
    load_manifest,
    local_trace_dir,
    manifest_names,
    traces_root,
)
from ksched.traces.openb import OPENB_VARIANTS, load_openb, read_openb_nodes, read_openb_pods
from ksched.traces.registry import (
    ENTRY_POINT_GROUP,
    Loader,
    TraceRegistry,
    get_loader,
    load,
    loader_names,
    register,
)
from ksched.traces.synthetic import synthetic
from ksched.traces.workload import (
    GPU_CARD_MODEL,
    GPU_COUNT,
    GPU_MILLI,
    NodeTable,
    PodTable,
    Workload,
    gpu_model_sets,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "GPU_CARD_MODEL",
    "GPU_COUNT",
    "GPU_MILLI",
    "OPENB_VARIANTS",
    "ChecksumMismatchError",
    "Loader",
    "Manifest",
    "ManifestFile",
    "NodeTable",
    "PodTable",
    "TraceFetchError",
    "TraceFormatError",
    "TraceRegistry",
    "TraceRegistryError",
    "Workload",
    "default_cache_dir",
    "fetch",
    "get_loader",
    "gpu_model_sets",
    "load",
    "load_alibaba2018",
    "load_borg2019",
    "load_dlrm2025",
    "load_manifest",
    "load_openb",
    "loader_names",
    "local_trace_dir",
    "manifest_names",
    "read_dlrm2025",
    "read_openb_nodes",
    "read_openb_pods",
    "register",
    "synthetic",
    "traces_root",
    "verify",
]
