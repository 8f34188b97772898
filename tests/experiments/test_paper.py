"""``python3 -m paper`` on a tiny results set: every figure, no unfilled template, no typed number."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    assert names == ["grid.csv", "published.csv", "tiebreak.csv", "workloads.csv"]


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
