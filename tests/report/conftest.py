"""Fixtures of the report tests; the data builders live in ``_reportdata``."""

from __future__ import annotations

import pytest
from _reportdata import MakeResult, make_result


@pytest.fixture
def result() -> MakeResult:
    return make_result
