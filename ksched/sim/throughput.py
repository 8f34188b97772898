"""kube-scheduler's ``SchedulingThroughput`` figure, computed from the times pods were bound.

scheduler_perf (test/integration/scheduler_perf, ``throughputCollector``) counts
the scheduled pods once a second from the moment the pods start being created
until all of them are scheduled, and reports the average and percentiles of
the per-second rates. A whole-run rate (pods / time to the last binding)
answers a different question: a handful of pods waiting out their back-off
at the end dominates it, while the collector, stopped at the last binding,
never samples that partial second.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import NDArray

SAMPLE_INTERVAL_S: Final = 1.0
PERCENTILES: Final = (50, 90, 95, 99)


def scheduling_throughput(
    bound: NDArray[np.float64], start: float, interval: float = SAMPLE_INTERVAL_S
) -> dict[str, float]:
    """``Average`` and ``Perc50``... ``Perc99`` pods/s, as scheduler_perf samples them.

    ``bound``: the binding times of the pods (NaN: never bound); ``start``:
    when the collector starts (the first creation). Samples are taken at
    ``start + k * interval`` up to the last binding, as upstream:

    - nothing is recorded until a pod is scheduled, and the first sample
      after that only sets the baseline (it would straddle the start);
    - a sample with no new pod is skipped, and the next one with progress
      is recorded once per interval it spans, so the percentiles stay exact.

    Empty when no sample could be recorded (the pods were all bound within a
    sampling interval or two).
    """
    times = np.sort(bound[np.isfinite(bound)])
    if not len(times) or not interval > 0:
        return {}
    end = float(times[-1])
    ticks = start + interval * np.arange(1, math.floor((end - start) / interval) + 1)
    counts = np.searchsorted(times, ticks, side="right")
    samples: list[float] = []
    last_count, last_tick, skipped, started = 0, start, 0, False
    for tick, count in zip(ticks.tolist(), counts.tolist(), strict=True):
        if count == 0:
            continue
        if not started:
            started, last_count, last_tick = True, count, tick
            continue
        if count == last_count:
            skipped += 1
            continue
        samples += [(count - last_count) / (tick - last_tick)] * (skipped + 1)
        last_count, last_tick, skipped = count, tick, 0
    if not samples:
        return {}
    ordered = sorted(samples)
    n = len(ordered)
    out = {"Average": sum(ordered) / n}
    for p in PERCENTILES:
        out[f"Perc{p}"] = ordered[math.ceil(n * p / 100) - 1]
    return out
