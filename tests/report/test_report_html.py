"""The HTML report: every profile, every plot inline, nothing fetched, all text escaped."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field, fields, replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _reportdata import FakeResult, MakeResult, make_result

from ksched.report import REPORT_FILE, render_html, write_report

HOSTILE = "<script>alert('x')</script>"


class _Tags(HTMLParser):
    """Start tags with their attributes and the classes of summary cells, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser


def _rows(text: str) -> dict[str, str]:
    """Table rows by their label (without the better-direction arrow): label -> the cells."""
    pattern = r'<tr><th scope="row">([^<]*?) ?(?:<span [^>]*>.</span>)?</th>(.*?)</tr>'
    return dict(re.findall(pattern, text))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One report of both protocols, rendered once: plotting dominates the test time."""
    results = [
        make_result("default-scheduler", "arrival", seed=1),
        make_result("fgd", "arrival", seed=2, quality=0.2),
        make_result("default-scheduler", "time", seed=3),
        make_result(HOSTILE, "time", seed=4, quality=0.2),
    ]
    out = tmp_path_factory.mktemp("report") / "out"
    path = write_report(results, out, title=f"run {HOSTILE}")
    assert path == out / REPORT_FILE
    return path


def test_report_written_with_every_plot(report: Path) -> None:
    path = report
    text = path.read_text(encoding="utf-8")
    images = [a["src"] for tag, a in _parse(text).tags if tag == "img"]
    pngs = sorted(p.name for p in path.parent.glob("*.png"))
    assert len(images) == len(pngs) == 11  # 2 arrival + 2 time + latency + 2 util + 4 heat maps
    for src in images:
        assert src is not None and src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(b"\x89PNG")
    assert {
        "alloc_vs_arrived.png",
        "delay_cdfs.png",
        "node_util_4_script-alert-x-script.png",
    } <= set(pngs)


def test_report_shows_every_profile_and_run_parameter(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    for name in [
        "default-scheduler (seed 1)",
        "fgd",
        "default-scheduler (seed 3)",
        "synthetic-openb",
        "arrival",
        "time",
    ]:
        assert f">{name}<" in text


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    tags = _parse(text).tags
    assert {t for t, _ in tags} & {"script", "link", "iframe", "object", "embed", "base"} == set()
    for _, attrs in tags:
        for key in ("src", "href"):
            assert attrs.get(key) is None or str(attrs[key]).startswith("data:"), attrs
    without_images = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert "http" not in without_images
    assert "url(" not in without_images and "@import" not in without_images


def test_report_escapes_profile_names(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text


def test_best_value_per_row_is_highlighted(result: MakeResult) -> None:
    worse, better = result("worse"), result("better")
    worse = replace(worse, summary=worse.summary | {"pods_failed": 9, "gpu_alloc_pct_final": 80.0})
    better = replace(
        better, summary=better.summary | {"pods_failed": 2, "gpu_alloc_pct_final": 90.0}
    )
    text = render_html([worse, better], [])
    rows = _rows(text)
    assert rows["pods failed"] == '<td>9</td><td class="best">2</td>'
    assert rows["GPU allocated, final (%)"] == '<td>80.00</td><td class="best">90.00</td>'
    assert 'class="best"' not in rows["pods total"]


@dataclass(frozen=True)
class _WithMeta(FakeResult):
    meta: dict[str, object] = field(default_factory=dict)


def test_run_parameters_include_text_summary_and_meta(result: MakeResult) -> None:
    a, b = result("a"), result("b")
    with_meta = _WithMeta(
        **{f.name: getattr(a, f.name) for f in fields(a)}, meta={"shuffle": True, "note": "<i>"}
    )
    plain = replace(b, summary=b.summary | {"tie_break": "first"})
    text = render_html([with_meta, plain], [])
    rows = _rows(text)
    assert rows["shuffle"] == "<td>True</td><td>-</td>"
    assert rows["note"] == "<td>&lt;i&gt;</td><td>-</td>"
    assert rows["tie_break"] == "<td>-</td><td>first</td>"


def test_report_refuses_no_results(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="write_report needs at least one result"):
        write_report([], tmp_path)
