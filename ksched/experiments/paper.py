"""Build ``paper/``: every figure, table and number of the text from one results directory.

The text is a Markdown template whose numbers all come from placeholders
(``{{ name }}``) filled from the grid's records; a digit written in the
template's prose outside a placeholder, inline code or the references
section is refused, so the paper cannot state a figure nobody measured. The
build writes ``paper.md`` (filled), ``paper.html``, ``figures/*.png`` and
``tables/*.csv`` and fails on an unknown or unfilled placeholder.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ksched.experiments.aggregate import (
    mean_curves,
    mean_std,
    policy_order,
    policy_title,
    runs_frame,
    summary_table,
    workload_order,
)
from ksched.experiments.cells import ARRIVED_MAX, DEFAULT_TUNE, CellRecord
from ksched.experiments.grid import PAPER_POLICIES, PUBLISHED_ALLOC_130
from ksched.experiments.paper_format import (
    PaperError,
    empty_panel,
    md_table,
    pp,
    save_figure,
)
from ksched.experiments.paper_learned import LEARNED_FIGURES, learned_parts
from ksched.experiments.paper_solvers import SOLVER_FIGURES, is_batch, solver_parts
from ksched.experiments.store import iter_records

__all__ = ["FIGURES", "MATCH_PP", "PaperBuild", "PaperError", "build_paper", "literal_numbers"]

# The tolerance for "matches the paper": within this many percentage points.
MATCH_PP: Final = 0.5
MAIN_TIE_BREAK: Final = "smallest-name"
FIGURES: Final = ("alloc_default", "frag_default", "published", "variants", "tiebreak")
FAMILIES: Final = (
    ("cpu", "share of CPU-only tasks"),
    ("gpushare", "share of GPU-sharing tasks"),
    ("gpuspec", "share of tasks with a GPU-model constraint"),
    ("multigpu", "share of multi-GPU tasks"),
)
_PLACEHOLDER: Final = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_REFERENCES: Final = re.compile(r"^#+\s*References\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PaperBuild:
    html: Path
    markdown: Path
    figures: tuple[Path, ...]
    tables: tuple[Path, ...]


def literal_numbers(template: str) -> list[tuple[int, str]]:
    """(line, text) of each digit run in the prose: outside placeholders, inline code, fenced
    code and the references section."""
    refs = _REFERENCES.search(template)
    body = template[: refs.start()] if refs else template
    found: list[tuple[int, str]] = []
    fenced = False
    for lineno, line in enumerate(body.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        prose = re.sub(r"`[^`]*`", "", _PLACEHOLDER.sub("", line))
        found.extend((lineno, m.group()) for m in re.finditer(r"\d+", prose))
    return found


def _fill(template: str, values: Mapping[str, str], source: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            line = template.count("\n", 0, m.start()) + 1
            raise PaperError(f"{source}:{line}: unknown placeholder {{{{ {name} }}}}")
        return values[name]

    text = _PLACEHOLDER.sub(sub, template)
    if "{{" in text or "}}" in text:
        line = text.count("\n", 0, text.find("{{" if "{{" in text else "}}")) + 1
        raise PaperError(f"{source}: malformed or unfilled placeholder near line {line}")
    return text


# -- numbers -------------------------------------------------------------------------------


def _pct(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.2f}%"


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _seeds_text(seeds: Sequence[int]) -> str:
    s = sorted(set(seeds))
    if not s:
        return "none"
    if s == list(range(s[0], s[-1] + 1)) and len(s) > 2:
        return f"{s[0]} to {s[-1]}"
    return ", ".join(map(str, s))


# -- figures -------------------------------------------------------------------------------


def _curve_panel(ax: Axes, curves: pd.DataFrame, column: str, ylabel: str, start: int = 0) -> None:
    """One line per policy from arrived ``start`` % to the end (a zoom when ``start`` > 0)."""
    curves = curves[curves["arrived"] >= start]
    if curves.empty:
        empty_panel(ax, "no runs of the default workload")
        return
    for i, policy in enumerate(policy_order(curves["policy"])):
        part = curves[curves["policy"] == policy]
        ax.plot(part["arrived"], part[column], label=policy_title(policy), color=f"C{i % 10}")
    ax.set_xlabel("arrived workload (% of cluster GPU)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(start, ARRIVED_MAX)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


# -- the build -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stat:
    mean: float
    std: float
    n: int

    def text(self) -> str:
        return mean_std(self.mean, self.std, self.n) if self.n else "not run"


_NOT_RUN: Final = _Stat(math.nan, math.nan, 0)


@dataclass
class _Data:
    runs: pd.DataFrame
    table: pd.DataFrame
    curves: pd.DataFrame
    tune: float
    records: list[CellRecord]
    batch: list[CellRecord]

    def main(self, workload: str | None = None, tie_break: str = MAIN_TIE_BREAK) -> pd.DataFrame:
        t = self.table
        keep = (t["tune"] == self.tune) & (t["tie_break"] == tie_break)
        if workload is not None:
            keep &= t["workload"] == workload
        return t[keep]

    def stats(
        self, workload: str | None = None, tie_break: str = MAIN_TIE_BREAK
    ) -> dict[tuple[str, str], _Stat]:
        """(policy, workload) -> mean, std, seeds at the main tune."""
        t = self.main(workload, tie_break)
        return {
            (str(p), str(w)): _Stat(float(m), float(s), int(n))
            for p, w, m, s, n in zip(
                t["policy"], t["workload"], t["mean"], t["std"], t["n"], strict=True
            )
        }

    def by_policy(self, workload: str, tie_break: str = MAIN_TIE_BREAK) -> dict[str, _Stat]:
        return {p: st for (p, _), st in self.stats(workload, tie_break).items()}


def _load(results: Path) -> _Data:
    try:
        records = list(iter_records(results))
    except ValueError as exc:
        raise PaperError(str(exc)) from None
    # Batch (solver) policies have their own section; the rest compares one-pod policies.
    batch = [r for r in records if is_batch(r)]
    records = [r for r in records if not is_batch(r)]
    if not records:
        raise PaperError(f"{results}: no cell records")
    runs = runs_frame(records)
    tunes = sorted(set(runs["tune"]))
    tune = DEFAULT_TUNE if DEFAULT_TUNE in tunes else tunes[0]
    return _Data(runs, summary_table(runs), mean_curves(records), tune, records, batch)


def _published(d: _Data, figures: Path, tables: Path) -> dict[str, str]:
    ours = d.by_policy("default")
    policies = policy_order([*PAPER_POLICIES, *ours])
    rows, csv_rows, gaps = [], [], []
    for p in policies:
        pub = PUBLISHED_ALLOC_130.get(p, math.nan)
        st = ours.get(p, _NOT_RUN)
        gap = st.mean - pub
        if math.isfinite(gap):
            gaps.append((p, gap))
        rows.append(
            [
                policy_title(p),
                "—" if math.isnan(pub) else f"{pub:.2f}",
                st.text(),
                str(st.n),
                pp(gap) if math.isfinite(gap) else "—",
            ]
        )
        csv_rows.append({"policy": p, "published": pub, "mean": st.mean, "std": st.std, "n": st.n})
    pd.DataFrame(csv_rows).to_csv(tables / "published.csv", index=False)
    header = ["policy", "published (%)", "ours (%)", "seeds", "ours minus published"]
    within = [p for p, g in gaps if abs(g) <= MATCH_PP]
    if gaps:
        worst = max(gaps, key=lambda t: abs(t[1]))
        summary = (
            f"Of the {len(gaps)} published policies in this results set, {len(within)} "
            f"{'is' if len(within) == 1 else 'are'} within ±{MATCH_PP} pp of the published "
            f"mean{' (' + _join([policy_title(p) for p in within]) + ')' if within else ''}; "
            f"the largest gap is {policy_title(worst[0])}'s, {pp(worst[1])}."
        )
    else:
        summary = (
            "None of the paper's policies has a default-workload run in this results set, "
            "so there is nothing to compare with the published numbers yet."
        )
    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.add_subplot()
    x = np.arange(len(policies))
    pub_v = [PUBLISHED_ALLOC_130.get(p, math.nan) for p in policies]
    our_v = [ours.get(p, _NOT_RUN).mean for p in policies]
    our_e = [ours[p].std if p in ours and ours[p].n > 1 else 0.0 for p in policies]
    ax.bar(x - 0.2, pub_v, 0.4, label="published", color="0.6")
    ax.bar(x + 0.2, our_v, 0.4, yerr=our_e, label="ksched", color="C0", capsize=3)
    ax.set_xticks(x, [policy_title(p) for p in policies], rotation=20)
    finite = [v for v in [*pub_v, *our_v] if math.isfinite(v)]
    ax.set_ylim(max(0.0, min(finite) - 10) if finite else 0, 100)
    ax.set_ylabel(f"GPU allocation at {ARRIVED_MAX}% (%)")
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    save_figure(fig, figures / "published.png")
    return {
        "published_table": md_table(header, rows),
        "published_summary": summary,
        "match_pp": f"{MATCH_PP}",
    }


def _ranking(d: _Data) -> str:
    ranked = sorted(
        ((st.mean, p) for p, st in d.by_policy("default").items() if math.isfinite(st.mean)),
        reverse=True,
    )
    if not ranked:
        return "There are no default-workload runs in this results set."
    items = [f"{policy_title(p)} {_pct(m)}" for m, p in ranked]
    return (
        f"Ranked by mean GPU allocation at {ARRIVED_MAX}% arrived workload: {_join(items)}. "
        f"{policy_title(ranked[0][1])} leads; the spread from first to last is "
        f"{ranked[0][0] - ranked[-1][0]:.2f} pp."
    )


def _default_figures(d: _Data, figures: Path) -> None:
    c = d.curves
    c = c[(c["tune"] == d.tune) & (c["tie_break"] == MAIN_TIE_BREAK) & (c["workload"] == "default")]
    fig = Figure(figsize=(11, 4.2))
    _curve_panel(fig.add_subplot(1, 2, 1), c, "alloc", "GPU allocation (% of cluster GPU)")
    # The policies part only once the cluster fills: the right panel zooms in there.
    _curve_panel(fig.add_subplot(1, 2, 2), c, "alloc", "GPU allocation (% of cluster GPU)", 80)
    save_figure(fig, figures / "alloc_default.png")
    fig = Figure(figsize=(11, 4.2))
    _curve_panel(fig.add_subplot(1, 2, 1), c, "frag", "fragmented GPU (% of cluster GPU)")
    _curve_panel(fig.add_subplot(1, 2, 2), c, "frag_ratio", "fragmentation rate (% of idle GPU)")
    save_figure(fig, figures / "frag_default.png")


def _family_level(workload: str, family: str) -> float:
    digits = workload.removeprefix(family)
    # cpu050 is 0.5x the original share of CPU-only tasks, cpu250 2.5x; the others are percents.
    return int(digits) / 100 if family == "cpu" else float(int(digits))


def _variants(d: _Data, figures: Path, tables: Path) -> dict[str, str]:
    stats = d.stats()
    workloads = workload_order(w for _, w in stats)
    policies = policy_order(p for p, _ in stats)
    d.main().to_csv(tables / "workloads.csv", index=False)
    rows = [
        [policy_title(p), *(stats.get((p, w), _NOT_RUN).text() for w in workloads)]
        for p in policies
    ]
    fig = Figure(figsize=(11, 7.5))
    sentences = []
    for i, (family, what) in enumerate(FAMILIES):
        ax = fig.add_subplot(2, 2, i + 1)
        ax.set_title(what, fontsize="medium")
        members = sorted(
            (w for w in workloads if w.startswith(family) and w.removeprefix(family).isdigit()),
            key=lambda w: _family_level(w, family),
        )
        if not members:
            empty_panel(ax, f"{family}*: not run")
            sentences.append(f"the {family} workloads were not run")
            continue
        xs = [_family_level(w, family) for w in members]
        for j, p in enumerate(policies):
            ys = [stats.get((p, w), _NOT_RUN).mean for w in members]
            if not any(math.isfinite(y) for y in ys):
                continue  # not run on this family: no empty legend entry
            ax.plot(xs, ys, "o-", label=policy_title(p), color=f"C{j % 10}")
        ax.set_xlabel("multiple of the original share" if family == "cpu" else "share (%)")
        ax.set_ylabel(f"GPU allocation at {ARRIVED_MAX}% (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
        wins: dict[str, int] = {}
        for w in members:
            scored = [(st.mean, p) for (p, w2), st in stats.items() if w2 == w]
            scored = [t for t in scored if math.isfinite(t[0])]
            if scored:
                top = max(scored)[1]
                wins[top] = wins.get(top, 0) + 1
        if wins:
            leader, count = max(wins.items(), key=lambda kv: kv[1])
            sentences.append(
                f"on the {family} workloads {policy_title(leader)} allocates the most in "
                f"{count} of {len(members)}"
            )
        else:
            sentences.append(f"the {family} workloads have no allocation at {ARRIVED_MAX}%")
    save_figure(fig, figures / "variants.png")
    text = _join(sentences)
    return {
        "variants_table": md_table(["policy", *workloads], rows)
        if workloads
        else "*No runs at the main setting.*",
        "variants_summary": text[:1].upper() + text[1:] + ".",
    }


def _tiebreak(d: _Data, figures: Path, tables: Path) -> dict[str, str]:
    sn, rnd = d.by_policy("default", MAIN_TIE_BREAK), d.by_policy("default", "random")
    rows, deltas = [], []
    for p in policy_order([*sn, *rnd]):
        a, b = sn.get(p, _NOT_RUN), rnd.get(p, _NOT_RUN)
        delta = a.mean - b.mean
        if math.isfinite(delta):
            deltas.append((p, delta))
        rows.append(
            [policy_title(p), a.text(), b.text(), pp(delta) if math.isfinite(delta) else "—"]
        )
    pd.DataFrame(deltas, columns=["policy", "smallest_name_minus_random_pp"]).to_csv(
        tables / "tiebreak.csv", index=False
    )
    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.add_subplot()
    if deltas:
        names = [policy_title(p) for p, _ in deltas]
        ax.bar(names, [g for _, g in deltas], color=["C2" if g >= 0 else "C3" for _, g in deltas])
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_ylabel("smallest-name minus random (pp)")
        ax.grid(axis="y", alpha=0.3)
        most = max(deltas, key=lambda t: abs(t[1]))
        least = min(deltas, key=lambda t: abs(t[1]))
        summary = (
            f"Over the {len(deltas)} policies run with both rules, switching from upstream's "
            f"random choice to the simulator's smallest-name rule moves the mean allocation at "
            f"{ARRIVED_MAX}% by {pp(most[1])} for {policy_title(most[0])} (the most) and by "
            f"{pp(least[1])} for {policy_title(least[0])} (the least)."
        )
    else:
        empty_panel(ax, "no policy was run with both tie-break rules")
        summary = (
            "No policy in this results set was run on the default workload with both "
            "tie-break rules; run the grid with `--tie-breaks smallest-name,random`."
        )
    save_figure(fig, figures / "tiebreak.png")
    header = ["policy", "smallest-name (%)", "random (%)", "difference"]
    return {"tiebreak_table": md_table(header, rows), "tiebreak_summary": summary}


def _cost(d: _Data) -> dict[str, str]:
    runs = d.runs
    wall = runs["wall_seconds"].to_numpy(np.float64)
    rows = []
    for p in policy_order(runs["policy"]):
        w = runs.loc[runs["policy"] == p, "wall_seconds"].to_numpy(np.float64)
        rows.append([policy_title(p), str(len(w)), f"{np.nanmedian(w):.2f}", f"{np.nanmax(w):.2f}"])
    return {
        "cost_table": md_table(["policy", "runs", "median s/run", "max s/run"], rows),
        "cost_total_hours": f"{np.nansum(wall) / 3600:.2f}",
        "cost_median_s": f"{np.nanmedian(wall):.2f}",
    }


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (no home paths in text)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name or str(path)


def _facts(d: _Data, results: Path) -> dict[str, str]:
    runs = d.runs
    sizes = {(r.meta.get("cluster_nodes"), r.meta.get("cluster_gpus")) for r in d.records}
    sizes.discard((None, None))
    if len(sizes) > 1:
        raise PaperError(f"the results mix clusters of different sizes (nodes, GPUs): {sizes}")
    nodes, gpus = sizes.pop() if sizes else (math.nan, math.nan)
    coverages = {float(r.meta["coverage"]) for r in d.records if "coverage" in r.meta}
    default = runs[(runs["workload"] == "default") & (runs["tune"] == d.tune)]
    return {
        "results_dir": f"`{_shown(results)}`",
        "n_runs": f"{len(runs):,}",
        "n_policies": str(runs["policy"].nunique()),
        "n_workloads": str(runs["workload"].nunique()),
        "tie_breaks": _join(sorted(set(runs["tie_break"]))),
        "seeds": _seeds_text(runs["seed"].tolist()),
        "seeds_default": _seeds_text(default["seed"].tolist()),
        "tune_pct": f"{d.tune * 100:g}",
        "arrived_max": str(ARRIVED_MAX),
        "cluster_nodes": f"{nodes:,}",
        "cluster_gpus": f"{gpus:,}",
        "coverage_pct": _join([f"{100 * c:g}" for c in sorted(coverages)]) or "n/a",
        "default_ranking": _ranking(d),
        "published_list": _join(
            [f"{policy_title(p)} {v:.2f}%" for p, v in PUBLISHED_ALLOC_130.items()]
        ),
        "n_published": str(len(PUBLISHED_ALLOC_130)),
    }


def build_paper(results: Path, out: Path, template: Path) -> PaperBuild:
    """Regenerate the paper from ``results`` into ``out`` (figures, tables, Markdown, HTML)."""
    if not template.is_file():
        raise PaperError(f"template {template} not found")
    source = template.read_text()
    numbers = literal_numbers(source)
    if numbers:
        where = ", ".join(f"{template}:{line} ({text!r})" for line, text in numbers[:10])
        raise PaperError(f"numbers written into the prose instead of computed: {where}")
    d = _load(results)
    figures, tables = out / "figures", out / "tables"
    figures.mkdir(parents=True, exist_ok=True)
    tables.mkdir(parents=True, exist_ok=True)
    _default_figures(d, figures)
    parts: list[Callable[[], dict[str, str]]] = [
        lambda: _facts(d, results),
        lambda: _published(d, figures, tables),
        lambda: _variants(d, figures, tables),
        lambda: _tiebreak(d, figures, tables),
        lambda: _cost(d),
        lambda: learned_parts(results, figures, tables),
        lambda: solver_parts(d.batch, d.records, d.tune, figures, tables),
    ]
    values: dict[str, str] = {}
    for part in parts:
        values.update(part())
    for name in (*FIGURES, *LEARNED_FIGURES, *SOLVER_FIGURES):
        values[f"fig_{name}"] = f"figures/{name}.png"
    d.table.to_csv(tables / "grid.csv", index=False)
    text = _fill(source, values, str(template))
    md_path = out / "paper.md"
    md_path.write_text(text)
    html_path = out / "paper.html"
    html_path.write_text(_html(text))
    return PaperBuild(
        html=html_path,
        markdown=md_path,
        figures=tuple(figures / f"{n}.png" for n in (*FIGURES, *LEARNED_FIGURES, *SOLVER_FIGURES)),
        tables=tuple(sorted(tables.glob("*.csv"))),
    )


_CSS: Final = """
body { max-width: 52rem; margin: 2rem auto; padding: 0 1rem; font: 16px/1.5 Georgia, serif; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ccc; padding: 0.2rem 0.6rem; }
img { max-width: 100%; }
code { font-size: 0.9em; }
"""


def _html(markdown_text: str) -> str:
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables", "fenced_code"])
    title = markdown_text.splitlines()[0].lstrip("# ").strip() if markdown_text else "paper"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )
