"""Duration features from a table equal those from the pod; SJF orders by them."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from ksched.framework.queued_pod import QueuedPodInfo
from ksched.ml import sjf
from ksched.ml.duration import duration_features, pod_duration_features
from ksched.ml.evaluate import duration_quality, offered_gpu_load, queue_workload, split_by_time
from ksched.ml.train import train_duration
from ksched.sim.objects import PodFactory
from ksched.traces.workload import Workload


def test_table_and_pod_forms_agree(workload: Workload) -> None:
    table = workload.pods
    factory = PodFactory(table)
    rows = duration_features(table)
    for r in range(0, len(table), 7):
        np.testing.assert_allclose(pod_duration_features(factory.info(r)), rows[r], rtol=1e-12)


def test_sjf_orders_by_duration_then_arrival(tmp_path: Path, workload: Workload) -> None:
    factory = PodFactory(workload.pods)
    pods = [factory.info(r, f"job-{r}") for r in range(4)]
    path = tmp_path / "d.csv"
    pd.DataFrame({"name": ["job-0", "job-1", "job-2"], "duration": [30, 10, 30]}).to_csv(path)
    plugin = sjf.new(sjf.ShortestPredictedJobFirstArgs(durations=str(path)), None)
    queued = [QueuedPodInfo(p, timestamp=float(i)) for i, p in enumerate(pods)]
    order = sorted(queued, key=plugin.sort_key)
    assert [q.pod_info.name for q in order] == ["job-1", "job-0", "job-2", "job-3"]
    assert plugin.duration(pods[3]) == math.inf
    assert plugin.less(queued[1], queued[0]) and not plugin.less(queued[0], queued[1])


def test_learned_sjf_predicts_once_per_pod(tmp_path: Path, workload: Workload) -> None:
    early, _ = split_by_time(workload.pods, 0.5)
    model_dir = train_duration([early]).save(tmp_path / "m")
    plugin = sjf.new(sjf.ShortestPredictedJobFirstArgs(model=str(model_dir)), None)
    pod = PodFactory(workload.pods).info(3)
    first = plugin.duration(pod)
    assert first >= 0 and pod.cache["_sjf_duration"] == first
    assert plugin.duration(pod) == first


def test_split_by_time_is_chronological(workload: Workload) -> None:
    early, late = split_by_time(workload.pods, 0.25)
    assert len(early) + len(late) == np.isfinite(workload.pods.creation_time).sum()
    assert early.creation_time.max() <= late.creation_time.min()
    with pytest.raises(ValueError, match="'fraction' parameter of split_by_time"):
        split_by_time(workload.pods, 1.0)


def test_args_need_exactly_one_source() -> None:
    with pytest.raises(ValidationError, match="exactly one of 'model' and 'durations'"):
        sjf.ShortestPredictedJobFirstArgs()
    with pytest.raises(ValidationError, match="exactly one"):
        sjf.ShortestPredictedJobFirstArgs(model="a", durations="b")


def test_bad_durations_file(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    pd.DataFrame({"name": ["a", "b"], "duration": ["1", "soon"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="row 2: field 'duration' is not a number"):
        sjf.read_durations(path)
    pd.DataFrame({"name": ["a"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"columns \['duration'\] are missing"):
        sjf.read_durations(path)


def test_offered_gpu_load_is_demand_over_capacity(workload: Workload) -> None:
    pods = workload.pods
    gpu = pods.num_gpu * np.where(pods.num_gpu > 0, pods.gpu_milli, 0) / 1000
    created = pods.creation_time[np.isfinite(pods.creation_time)]
    window = created.max() - created.min()
    expected = np.nansum(gpu * pods.duration) / (workload.nodes.gpu_count.sum() * window)
    assert expected > 0
    assert offered_gpu_load(workload) == pytest.approx(expected, rel=1e-12)
    faster = queue_workload(workload, pods, nodes=None, arrival_speedup=4.0)
    assert offered_gpu_load(faster) == pytest.approx(4 * expected, rel=1e-9)
    fewer = queue_workload(workload, pods, nodes=6, arrival_speedup=1.0)
    assert offered_gpu_load(fewer) > offered_gpu_load(workload)


def test_duration_quality_on_held_out_pods(tmp_path: Path, workload: Workload) -> None:
    early, late = split_by_time(workload.pods, 0.5)
    model = train_duration([early])
    quality = duration_quality(model, late)
    assert quality["pods"] == np.isfinite(late.duration).sum()
    assert -1 <= quality["spearman"] <= 1
    assert quality["mae_log"] >= 0 and quality["mae_log_median"] >= 0
    unknown = dataclasses.replace(late, duration=np.full(len(late), np.nan))
    with pytest.raises(ValueError, match="no held-out pod has a known duration"):
        duration_quality(model, unknown)
