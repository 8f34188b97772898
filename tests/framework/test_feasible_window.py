"""The vectorised helpers that cut the feasible window, against plain Python references."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ksched.framework.runtime import _rejecters, _segments, _window


@st.composite
def fits_and_start(draw: st.DrawFn) -> tuple[list[bool], int, int]:
    fits = draw(st.lists(st.booleans(), min_size=1, max_size=3000))
    start = draw(st.integers(0, len(fits) - 1))
    return fits, start, draw(st.integers(0, len(fits) + 5))


@given(fits_and_start())
def test_window_takes_the_first_fitting_rows_in_round_robin_order(
    case: tuple[list[bool], int, int],
) -> None:
    fits, start, wanted = case
    m = len(fits)
    order = [(start + k) % m for k in range(m)]
    fitting = [row for row in order if fits[row]]
    rows, processed = _window(np.asarray(fits), start, wanted)
    assert rows.tolist() == fitting[:wanted]
    if len(fitting) < wanted or wanted >= m:
        assert processed == m
    else:
        # Positions read up to and including the last row taken.
        assert processed == (order.index(fitting[wanted - 1]) + 1 if wanted else 0)


@given(st.integers(0, 5000), st.integers(1, 2000), st.data())
def test_segments_cover_the_rows_once_from_start(m: int, chunk: int, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, max(m - 1, 0)))
    pieces = _segments(start, m, chunk)
    covered = [row for a, b in pieces for row in range(a, b)]
    assert covered == [*range(start, m), *range(0, start)]
    assert all(b > a for a, b in pieces)


@given(st.lists(st.integers(-1, 40), max_size=500))
def test_rejecters_are_the_distinct_filter_indices(who: list[int]) -> None:
    expected = sorted({i for i in who if i >= 0})
    assert _rejecters(np.asarray(who, dtype=np.int16)) == expected
