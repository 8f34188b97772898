"""A real API server on loopback per test (ours, and upstream's when it is built), plus helpers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ksched.cluster.servers import api_server, kube_available
from ksched.controllers import PODS, ApiError, ControllerManager, Informer, KubeClient, Obj
from ksched.kubelet import FakeKubelet, Stages, nodes_from_flags

NODES = 3


@pytest.fixture(params=["ksched", pytest.param("kube", marks=pytest.mark.k8s)])
def kubeconfig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "kube":
        why = kube_available()
        if why is not None:
            pytest.skip(f"real kube-apiserver not built: {why}")
    with api_server(request.param, tmp_path / "api") as path:
        yield str(path)


@pytest.fixture
def client(kubeconfig: str) -> Iterator[KubeClient]:
    with KubeClient(kubeconfig) as c:
        yield c


class Binder:
    """The scheduler's part, reduced to binding: every new unbound pod to the next node.

    Pods labelled ``unschedulable: "true"`` are left pending, as no node would fit them.
    """

    def __init__(self, client: KubeClient, nodes: list[str]) -> None:
        self.client = client
        self.nodes = nodes
        self.count = 0
        self.lock = threading.Lock()
        self.informer = Informer(client, PODS)
        self.informer.add_handler(self.on_pod)

    def on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if new is None or event != "ADDED" or (new.get("spec") or {}).get("nodeName"):
            return
        if (new["metadata"].get("labels") or {}).get("unschedulable") == "true":
            return
        with self.lock:
            node = self.nodes[self.count % len(self.nodes)]
            self.count += 1
        meta = new["metadata"]
        threading.Thread(
            target=self.bind, args=(meta["namespace"], meta["name"], node), daemon=True
        ).start()

    def bind(self, namespace: str, name: str, node: str) -> None:
        """Bind; a pod deleted (scaled down) before its binding lands is skipped, as upstream."""
        try:
            self.client.bind(namespace, name, node)
        except ApiError as exc:
            if not (exc.not_found or exc.conflict):
                raise


@pytest.fixture
def cluster(client: KubeClient) -> Iterator[KubeClient]:
    """Controllers, simulated kubelets (pods finish per annotation) and a binder, in-process."""
    nodes = nodes_from_flags(NODES)
    kubelet = FakeKubelet(client, nodes, stages=Stages(), renew_interval=5.0)
    kubelet.start()
    binder = Binder(client, [n["metadata"]["name"] for n in nodes])
    binder.informer.start()
    assert binder.informer.wait_synced(30)
    manager = ControllerManager(client)
    manager.start()
    yield client
    manager.stop()
    binder.informer.stop()
    kubelet.stop()
