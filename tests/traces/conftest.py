"""Where the public trace copies are: $KSCHED_TRACES_DIR, else ../shared/traces.

Tests that need a trace ask for its folder through ``trace_dir`` and are
skipped, with the path in the reason, when it is not there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ksched.traces import traces_root


@pytest.fixture
def trace_dir() -> Callable[[str], Path]:
    def find(name: str) -> Path:
        path = traces_root() / name
        if not path.is_dir():
            pytest.skip(f"trace folder {path} not found (set KSCHED_TRACES_DIR to the traces)")
        return path

    return find


@pytest.fixture
def openb_dir(trace_dir: Callable[[str], Path]) -> Path:
    return trace_dir("alibaba-gpu-2023")


@pytest.fixture
def dlrm_dir(trace_dir: Callable[[str], Path]) -> Path:
    return trace_dir("alibaba-gpu-dlrm-2025")
