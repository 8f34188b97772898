"""Benchmarks print the machine they ran on, since figures mean little without it."""

from __future__ import annotations

import os
from typing import Any


def pytest_report_header(config: Any) -> str:
    return f"cores: {os.cpu_count()}"
