"""A tiny openb-shaped trace folder: real CSV files in the openb layouts, made by a seeded generator.

40 nodes of 8 GPUs keep one whole-GPU pod at 0.31% of capacity, so a run tuned
to 130% always reaches the 130% point; a few hundred pods make a run take
about a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

NODE_HEADER = "sn,cpu_milli,memory_mib,gpu,model"
POD_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time"
)
# variant -> (share of CPU-only pods, share of GPU-sharing pods, share with a model constraint,
#             share of multi-GPU pods)
VARIANTS = {
    "default": (0.1, 0.4, 0.05, 0.1),
    "cpu050": (0.3, 0.4, 0.05, 0.1),
    "gpushare40": (0.1, 0.6, 0.05, 0.1),
    "gpuspec10": (0.1, 0.4, 0.2, 0.1),
    "multigpu20": (0.1, 0.4, 0.05, 0.3),
}


def write_tiny_trace(folder: Path, n_nodes: int = 40, n_pods: int = 400) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    models = ["V100M16", "T4", "A10"]
    nodes = [NODE_HEADER]
    for i in range(n_nodes):
        nodes.append(f"node-{i:03d},48000,393216,8,{models[i % len(models)]}")
    (folder / "openb_node_list_gpu_node.csv").write_text("\n".join(nodes) + "\n")
    for variant, (cpu_only, share, spec, multi) in VARIANTS.items():
        rows = [POD_HEADER]
        for j in range(n_pods):
            u = rng.random()
            cpu = int(rng.choice([1000, 4000, 8000, 16000]))
            if u < cpu_only:
                num, milli = 0, 0
            elif u < cpu_only + share:
                num, milli = 1, int(rng.choice([250, 500, 750]))
            elif u < cpu_only + share + multi:
                num, milli = int(rng.choice([2, 3])), 1000
            else:
                num, milli = 1, 1000
            gpu_spec = models[j % 2] if num and rng.random() < spec else ""
            rows.append(f"pod-{j:04d},{cpu},{cpu * 4},{num},{milli},{gpu_spec},LS,Running,0,,")
        (folder / f"openb_pod_list_{variant}.csv").write_text("\n".join(rows) + "\n")
    return folder
