"""``ksched train`` and ``ksched evaluate``: models from logs; bad input is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ksched.cli.main import main
from ksched.ml.model import META_FILE


def test_train_scorer_from_logs(
    logs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(
        [
            "train",
            "scorer",
            "--logs",
            *map(str, logs),
            "--val-group",
            "s2",
            "--estimator",
            "linear",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 0
    meta = json.loads((tmp_path / "model" / META_FILE).read_text())
    assert meta["val_groups"] == ["s2"] and meta["train_groups"] == ["s1"]
    assert 0 <= meta["validation"]["agreement_val"] <= 1
    assert f"model: {tmp_path / 'model'}" in capsys.readouterr().out


def test_train_scorer_bad_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["train", "scorer", "--logs", str(tmp_path), "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "not a decision log (decisions.parquet is missing)" in capsys.readouterr().err


def test_evaluate_refuses_a_mismatched_model(
    model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in model_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    meta = json.loads((bad / META_FILE).read_text())
    meta["features"] = meta["features"][:-1]
    (bad / META_FILE).write_text(json.dumps(meta))
    rc = main(
        [
            "evaluate",
            "scorer",
            "--model",
            str(bad),
            "--teacher",
            "x.yaml",
            "--variants",
            "default",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("ksched: error: ")
    assert "feature schema mismatch" in err and "missing untolerated_taints" in err
