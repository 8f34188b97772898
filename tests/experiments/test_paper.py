"""``python3 -m paper`` on a tiny results set: every figure, no unfilled template, no typed number."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ksched.experiments import iter_records, runs_frame
from ksched.experiments.paper import FIGURES, PaperError, build_paper, literal_numbers

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "paper" / "paper.md"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def built(tiny_results: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("paper")
    done = subprocess.run(
        [sys.executable, "-m", "paper", "--results", str(tiny_results), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"html: {out / 'paper.html'}" in done.stdout
    return out


def test_every_figure_is_written_and_shown(built: Path) -> None:
    html = (built / "paper.html").read_text()
    for name in FIGURES:
        path = built / "figures" / f"{name}.png"
        assert path.read_bytes()[:8] == PNG, name
        assert f'src="figures/{name}.png"' in html, name


def test_every_table_is_written(built: Path) -> None:
    names = sorted(p.name for p in (built / "tables").iterdir())
    assert names == ["grid.csv", "published.csv", "solvers.csv", "tiebreak.csv", "workloads.csv"]


def test_no_template_is_left_unfilled(built: Path) -> None:
    for name in ("paper.md", "paper.html"):
        text = (built / name).read_text()
        assert "{{" not in text and "}}" not in text, name
    html = (built / "paper.html").read_text()
    assert html.count("<table>") == 4  # published, workloads, tie-break, cost


def test_numbers_in_the_text_come_from_the_results(built: Path, tiny_results: Path) -> None:
    runs = runs_frame(iter_records(tiny_results))
    main = runs[(runs["workload"] == "default") & (runs["tie_break"] == "smallest-name")]
    means = main.groupby("policy")["alloc"].mean()
    text = (built / "paper.md").read_text()
    for policy, mean in means.items():
        assert f"{policy} {mean:.2f}%" in text  # the ranking sentence
    assert f"({len(runs)} runs)" in text
    # Published numbers sit beside ours, and no paper policy was run here.
    assert "| FGD | 95.39 | not run | 0 | — |" in text
    random = runs[(runs["workload"] == "default") & (runs["tie_break"] == "random")]
    delta = means["default"] - random[random["policy"] == "default"]["alloc"].mean()
    assert f"| default | {means['default']:.2f}" in text
    assert f"{round(delta, 2) + 0.0:+.2f} pp" in text


def test_the_template_states_no_number_of_its_own() -> None:
    assert literal_numbers(TEMPLATE.read_text()) == []


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("FGD reaches 95% of GPUs.\n", [(1, "95")]),
        ("At {{ arrived_max }}% and `code 42`.\n", []),
        ("```\nrun --seeds 42-51\n```\nplain\n", []),
        ("text\n## References\n- ATC 2023\n", []),
        ("a\nb 7 c\n", [(2, "7")]),
    ],
    ids=["prose", "placeholder-and-code", "fenced", "references", "second-line"],
)
def test_literal_numbers(template: str, expected: list[tuple[int, str]]) -> None:
    assert literal_numbers(template) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Allocation reaches 95% here.\n", r"numbers written into the prose.*:1 \('95'\)"),
        ("# T\n\nSee {{ no_such_value }}.\n", r":3: unknown placeholder \{\{ no_such_value \}\}"),
        ("# T\n\nBroken {{ brace.\n", "malformed or unfilled placeholder near line 3"),
    ],
    ids=["typed-number", "unknown-placeholder", "malformed"],
)
def test_a_bad_template_is_refused(
    template: str, message: str, tiny_results: Path, tmp_path: Path
) -> None:
    path = tmp_path / "t.md"
    path.write_text(template)
    with pytest.raises(PaperError, match=message):
        build_paper(tiny_results, tmp_path / "out", path)


def test_no_results_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "paper", "--results", str(tmp_path), "--out", str(tmp_path / "o")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("paper: error: ") and "Traceback" not in done.stderr


def _learned_results(tiny_results: Path, root: Path) -> Path:
    """The tiny grid plus ``learned/`` files in the shape ``ksched evaluate`` writes them."""
    root.mkdir()
    (root / "cells").symlink_to(tiny_results / "cells")
    learned = root / "learned"
    learned.mkdir()
    scorer = [
        ("default", 42, "mlscore", 95.40), ("default", 42, "fgd", 95.50),
        ("cpu100", 42, "mlscore", 95.60), ("cpu100", 42, "fgd", 95.20),
    ]  # fmt: skip
    pd.DataFrame(scorer, columns=["workload", "seed", "profile", "gpu_alloc_pct"]).to_csv(
        learned / "scorer.csv", index=False
    )
    queue = [
        (40, 20.0, 1.5, "fifo", 7200.0, 600.0, 0.0, 20.0),
        (40, 20.0, 1.5, "learned-sjf", 6480.0, 300.0, 10.0, 8.0),
        (40, 20.0, 1.5, "oracle-sjf", 6000.0, 120.0, 16.7, 0.0),
        (30, 20.0, 2.0, "fifo", 9000.0, 900.0, 0.0, 50.0),
        (30, 20.0, 2.0, "learned-sjf", 7200.0, 500.0, 20.0, 20.0),
        (30, 20.0, 2.0, "oracle-sjf", 6000.0, 200.0, 33.3, 0.0),
    ]
    columns = ["nodes", "arrival_speedup", "offered_gpu_load", "policy", "jct_mean_s",
               "queue_delay_mean_s", "jct_reduction_vs_fifo_pct", "jct_above_oracle_pct"]  # fmt: skip
    pd.DataFrame(queue, columns=columns).to_csv(learned / "queue.csv", index=False)
    quality = {"pods": 4076, "spearman": 0.357, "mae_log": 1.25, "mae_log_median": 1.38}
    (learned / "duration_model.json").write_text(json.dumps(quality))
    return root


def test_learned_policies_come_from_their_files(tiny_results: Path, tmp_path: Path) -> None:
    results = _learned_results(tiny_results, tmp_path / "results")
    built = build_paper(results, tmp_path / "out", TEMPLATE)
    assert (tmp_path / "out" / "figures" / "queue_jct.png").read_bytes()[:8] == PNG
    tables = {p.name for p in built.tables}
    assert {"distilled_scorer.csv", "queue_order.csv"} <= tables
    text = built.markdown.read_text()
    assert "| default | 42 | 95.50 | 95.40 | -0.10 pp |" in text
    assert "| mean |  | 95.35 | 95.50 | +0.15 pp |" in text
    assert "within 0.3 points of (or above) its teacher's in 2" in text
    assert "| 30 | 2.00 | learned SJF | 2.00 | 8.3 | +20.0% | +20.0% |" in text
    assert "heaviest load (30 nodes, offered GPU load 2.00)" in text
    assert "cuts mean JCT by 20.0% against FIFO and the oracle by 33.3%" in text
    assert "(Spearman) is 0.36" in text
    assert built.html.read_text().count("<table>") == 6


def test_learned_files_are_optional_and_checked(tiny_results: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    text = build_paper(tiny_results, out, TEMPLATE).markdown.read_text()
    assert "No distilled-scorer results (`scorer.csv` is absent)." in text
    assert "No learned queue-order results (`queue.csv` is absent)." in text
    assert (out / "figures" / "queue_jct.png").read_bytes()[:8] == PNG
    results = _learned_results(tiny_results, tmp_path / "results")
    pd.DataFrame({"workload": ["default"]}).to_csv(results / "learned" / "queue.csv")
    with pytest.raises(PaperError, match=r"queue.csv: columns \['nodes'"):
        build_paper(results, out, TEMPLATE)
