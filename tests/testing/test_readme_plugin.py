"""The README's plugin example works as written: contract checks, registry, scheduling."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

from ksched.api import Node, Pod
from ksched.config import load_config_text
from ksched.config.registry import PluginSpec
from ksched.framework.plugins.registry import default_registry
from ksched.scheduler import Scheduler
from ksched.testing import check_plugin, node_json, pod_json

README = Path(__file__).resolve().parents[2] / "README.md"

CONFIG = """\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  plugins:
    score:
      enabled:
      - name: PreferLabelled
        weight: 100
"""


def _readme_module() -> types.ModuleType:
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert code is not None, "README has no python example"
    module = types.ModuleType("readme_plugin")
    sys.modules["readme_plugin"] = module
    exec(compile(code.group(1), str(README), "exec"), module.__dict__)
    return module


def test_readme_plugin_passes_the_contract_and_steers_scheduling() -> None:
    module = _readme_module()
    check_plugin(module)
    registry = default_registry(entry_points=False)
    registry.register(PluginSpec.from_module(module))
    sched = Scheduler(load_config_text(CONFIG), registry=registry)
    sched.add_nodes(
        [
            Node.model_validate(node_json("plain")),
            Node.model_validate(node_json("fast", labels={"tier": "fast"})),
        ]
    )
    sched.add_pod(Pod.model_validate(pod_json("web")))
    sched.run()
    assert sched.bound == {"default/web": "fast"}
