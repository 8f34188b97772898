"""The openb trace folder for the replay tests: $KSCHED_TRACES_DIR, else ../shared/traces.

Tests that need it are skipped, with the path in the reason, when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ksched.traces import traces_root


@pytest.fixture
def openb_dir() -> Path:
    path = traces_root() / "alibaba-gpu-2023"
    if not path.is_dir():
        pytest.skip(f"trace folder {path} not found (set KSCHED_TRACES_DIR to the traces)")
    return path
