"""Compare scheduler profiles on one workload: the same pods, seed and protocol for each.

A ``Profile`` is one scheduler profile of a configuration file plus the
host tie-break rule (not part of ``KubeSchedulerConfiguration``). The
built-in examples live in ``ksched/sim/profiles/*.yaml``: ``default``
(kube-scheduler's defaults, spreading) and ``most-allocated`` (bin packing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from ksched.config import KubeSchedulerConfiguration, load_config
from ksched.scheduler.scheduler import TieBreak
from ksched.sim.arrival_replay import ArrivalReplay
from ksched.sim.result import ReplayResult
from ksched.sim.time_replay import TimeReplay
from ksched.traces.workload import Workload

__all__ = [
    "BUILTIN_PROFILES",
    "PROFILES_DIR",
    "Profile",
    "builtin_profiles",
    "compare",
    "format_summary",
    "load_profiles",
    "replay",
    "write_results",
]

PROFILES_DIR: Final = Path(__file__).parent / "profiles"
BUILTIN_PROFILES: Final = ("default", "most-allocated")


@dataclass(frozen=True)
class Profile:
    """``scheduler_name`` picks the profile of ``config`` that places the pods (None: the first)."""

    name: str
    config: KubeSchedulerConfiguration
    scheduler_name: str | None = None
    tie_break: TieBreak = "random"


def load_profiles(path: str | Path, tie_break: TieBreak = "random") -> list[Profile]:
    """One ``Profile`` per scheduler profile in the file, named by the file when there is one."""
    config = load_config(path)
    names = [p.scheduler_name for p in config.profiles]
    if len(names) == 1:
        return [Profile(Path(path).stem, config, names[0], tie_break)]
    return [Profile(name, config, name, tie_break) for name in names]


def builtin_profiles(tie_break: TieBreak = "random") -> list[Profile]:
    return [
        p
        for name in BUILTIN_PROFILES
        for p in load_profiles(PROFILES_DIR / f"{name}.yaml", tie_break)
    ]


def replay(
    workload: Workload,
    profile: Profile,
    *,
    protocol: Literal["time", "arrival"] = "arrival",
    seed: int = 0,
    **options: Any,
) -> ReplayResult:
    """Replay ``workload`` on ``profile``; ``options`` go to ``ArrivalReplay``/``TimeReplay``."""
    common: dict[str, Any] = {
        "config": profile.config,
        "profile": profile.scheduler_name,
        "label": profile.name,
        "seed": seed,
        "tie_break": profile.tie_break,
    }
    if protocol == "arrival":
        return ArrivalReplay(workload, **common, **options).run()
    if protocol == "time":
        return TimeReplay(workload, **common, **options).run()
    raise ValueError(
        f"The 'protocol' parameter of replay must be 'time' or 'arrival'. Got {protocol!r} instead."
    )


def compare(
    workload: Workload,
    profiles: Sequence[Profile],
    *,
    protocol: Literal["time", "arrival"] = "arrival",
    seed: int = 0,
    **options: Any,
) -> list[ReplayResult]:
    """One result per profile, in order; profile names must differ (they name the output)."""
    names = [p.name for p in profiles]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"profile names must be unique, repeated: {', '.join(duplicated)}")
    return [replay(workload, p, protocol=protocol, seed=seed, **options) for p in profiles]


def write_results(results: Sequence[ReplayResult], out_dir: str | Path) -> list[Path]:
    """Each result under ``out_dir/<profile>/``."""
    return [r.to_dir(out_dir) for r in results]


def format_summary(results: Sequence[ReplayResult]) -> str:
    """The comparison table: ``ksched.report``'s when it is installed, else a plain one."""
    try:
        from ksched.report import format_table
    except ImportError:
        return _plain_table(results)
    return format_table(results)


def _plain_table(results: Sequence[ReplayResult]) -> str:
    keys = list(dict.fromkeys(k for r in results for k in r.summary))
    rows = [["profile", *(r.profile for r in results)]]
    for key in keys:
        cells = [r.summary.get(key, "-") for r in results]
        rows.append([key, *(f"{c:,.2f}" if isinstance(c, float) else str(c) for c in cells)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )
