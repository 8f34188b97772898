"""Jobs through a real API server: completions with bounded parallelism, backoff limit, work queue."""

from __future__ import annotations

import threading

from ksched.controllers import JOBS, PODS, Informer, KubeClient, Obj, wait_until
from ksched.controllers.objects import controller_of, is_active
from ksched.kubelet import DURATION_ANNOTATION, RESULT_ANNOTATION

NS = "default"


def job(
    name: str, completions: int | None, parallelism: int, result: str = "Succeeded", **spec: int
) -> Obj:
    body: Obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "parallelism": parallelism,
            "template": {
                "metadata": {
                    "annotations": {DURATION_ANNOTATION: "0.3", RESULT_ANNOTATION: result}
                },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox"}],
                },
            },
            **spec,
        },
    }
    if completions is not None:
        body["spec"]["completions"] = completions
    return body


def condition(client: KubeClient, name: str) -> str | None:
    status = client.get(JOBS, name, NS).get("status") or {}
    for cond in status.get("conditions") or []:
        if cond["status"] == "True" and cond["type"] in ("Complete", "Failed"):
            return str(cond["type"])
    return None


class ActiveCounter:
    """The most pods of one Job active at once, as seen by a watch."""

    def __init__(self, client: KubeClient, job_name: str) -> None:
        self.job_name = job_name
        self.most = 0
        self.lock = threading.Lock()
        self.informer = Informer(client, PODS, namespace=NS)
        self.informer.add_handler(self.on_event)

    def on_event(self, event: str, old: Obj | None, new: Obj | None) -> None:
        mine = [
            p
            for p in self.informer.items()
            if (ref := controller_of(p)) is not None
            and ref["name"] == self.job_name
            and is_active(p)
        ]
        with self.lock:
            self.most = max(self.most, len(mine))


def test_job_completes_with_parallelism(cluster: KubeClient) -> None:
    counter = ActiveCounter(cluster, "batch")
    counter.informer.start()
    assert counter.informer.wait_synced(30)
    try:
        cluster.create(JOBS, job("batch", completions=5, parallelism=2), NS)
        assert wait_until(lambda: condition(cluster, "batch") == "Complete", 60)
    finally:
        counter.informer.stop()
    status = cluster.get(JOBS, "batch", NS)["status"]
    assert status["succeeded"] == 5
    assert status.get("active", 0) == 0
    assert status.get("completionTime")
    phases = [
        p["status"]["phase"]
        for p in cluster.list(PODS, NS, label_selector="job-name=batch")["items"]
    ]
    assert phases.count("Succeeded") == 5
    assert 1 <= counter.most <= 2


def test_job_fails_past_backoff_limit(cluster: KubeClient) -> None:
    cluster.create(
        JOBS, job("doomed", completions=3, parallelism=1, result="Failed", backoffLimit=1), NS
    )
    assert wait_until(lambda: condition(cluster, "doomed") == "Failed", 60)
    status = cluster.get(JOBS, "doomed", NS)["status"]
    assert status["failed"] == 2
    assert status.get("succeeded", 0) == 0
    reasons = {c["type"]: c.get("reason") for c in status["conditions"]}
    assert reasons["Failed"] == "BackoffLimitExceeded"


def test_work_queue_job_completes_after_first_success(cluster: KubeClient) -> None:
    cluster.create(JOBS, job("queue", completions=None, parallelism=3), NS)
    assert wait_until(lambda: condition(cluster, "queue") == "Complete", 60)
    status = cluster.get(JOBS, "queue", NS)["status"]
    assert status["succeeded"] >= 1
    assert status.get("active", 0) == 0
