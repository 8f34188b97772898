"""Quantity parsing, rounding and formatting against upstream's resource.Quantity."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from ksched.api import (
    Quantity,
    QuantityError,
    QuantityFormat,
    format_quantity,
    milli_value,
    parse_quantity,
    value,
)

PARSED = [
    ("1.5Gi", Fraction(1610612736)),
    ("100Mi", Fraction(100 * 2**20)),
    ("1Ki", Fraction(1024)),
    ("1Ei", Fraction(2**60)),
    ("1k", Fraction(1000)),
    ("1M", Fraction(10**6)),
    ("1E", Fraction(10**18)),
    ("500m", Fraction(1, 2)),
    ("0.5", Fraction(1, 2)),
    ("0.1", Fraction(1, 10)),
    ("1e3", Fraction(1000)),
    ("1E-3", Fraction(1, 1000)),
    ("12e6", Fraction(12 * 10**6)),
    ("1e+3", Fraction(1000)),
    ("1.5e2", Fraction(150)),
    ("-1", Fraction(-1)),
    ("+2", Fraction(2)),
    ("-0.5e-1", Fraction(-1, 20)),
    ("007", Fraction(7)),
    ("1.", Fraction(1)),
    (".5", Fraction(1, 2)),
    ("0", Fraction(0)),
    ("250u", Fraction(1, 4000)),
    ("3n", Fraction(3, 10**9)),
    # Upstream rounds non-zero values up to a whole nano and caps at int64 max.
    ("1.1n", Fraction(2, 10**9)),
    ("1e-100", Fraction(1, 10**9)),
    ("-1e-100", Fraction(-1, 10**9)),
    ("1e100", Fraction(2**63 - 1)),
    ("100Ei", Fraction(2**63 - 1)),
    (2, Fraction(2)),
    (0.25, Fraction(1, 4)),
    (1e-5, Fraction(1, 10**5)),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[str(t) for t, _ in PARSED])
def test_parse_is_exact(text: str | int | float, expected: Fraction) -> None:
    assert parse_quantity(text) == expected


ROUNDED = [
    ("500m", 1, 500),
    ("0.1", 1, 100),
    ("1.1n", 1, 1),
    ("1.5Gi", 1610612736, 1610612736000),
    ("100m", 1, 100),
    ("1", 1, 1000),
    ("2.0001", 3, 2001),
    ("-1", -1, -1000),
    ("-1.5", -2, -1500),
    ("-0.5m", -1, -1),
]


@pytest.mark.parametrize(("text", "whole", "milli"), ROUNDED, ids=[t for t, _, _ in ROUNDED])
def test_value_and_milli_value_round_like_go(text: str, whole: int, milli: int) -> None:
    q = parse_quantity(text)
    assert (value(q), milli_value(q)) == (whole, milli)
    assert (Quantity(text).value(), Quantity(text).milli_value()) == (whole, milli)


INVALID = [
    ("", "empty string"),
    ("1.5.5", "expected a number"),
    ("abc", "expected a number"),
    ("1Qi", "unknown suffix 'Qi'"),
    ("1K", "unknown suffix 'K'"),
    ("1e", "unknown suffix 'e'"),
    ("1e3m", "unknown suffix 'e3m'"),
    ("Gi", "expected a number"),
    (".", "expected a number"),
    ("-", "expected a number"),
    (" 1", "expected a number"),
    ("1 ", "expected a number"),
    ("٣", "expected a number"),
    (True, "boolean"),
    (float("nan"), "finite"),
    (float("inf"), "finite"),
]


@pytest.mark.parametrize(("text", "why"), INVALID, ids=[repr(t) for t, _ in INVALID])
def test_invalid_quantities_are_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(text)
    assert repr(text) in str(info.value)
    assert why in str(info.value)


FORMATTED: list[tuple[Fraction | int, QuantityFormat, str]] = [
    (Fraction(1500, 1000), "DecimalSI", "1500m"),
    (Fraction(1, 10), "DecimalSI", "100m"),
    (2, "DecimalSI", "2"),
    (2000, "DecimalSI", "2k"),
    (1200, "DecimalSI", "1200"),
    (-3000, "DecimalSI", "-3k"),
    (0, "BinarySI", "0"),
    (1073741824, "BinarySI", "1Gi"),
    (1610612736, "BinarySI", "1536Mi"),
    (1000, "BinarySI", "1k"),  # under 1024: decimal, as upstream
    (1025, "BinarySI", "1025"),
    (Fraction(3, 2) * 1024, "BinarySI", "1536"),
    (Fraction(1, 2) * 1025, "BinarySI", "512500m"),  # not whole: decimal
    (1000, "DecimalExponent", "1e3"),
    (Fraction(1, 1000), "DecimalExponent", "1e-3"),
    (7, "DecimalExponent", "7"),
    (Fraction(1, 3), "DecimalSI", "333333334n"),  # rounded up to a nano
]


@pytest.mark.parametrize(
    ("amount", "fmt", "text"), FORMATTED, ids=[f"{a}-{f}" for a, f, _ in FORMATTED]
)
def test_format_is_canonical(amount: Fraction | int, fmt: QuantityFormat, text: str) -> None:
    assert format_quantity(amount, fmt) == text


@given(
    amount=st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1),
    fmt=st.sampled_from(["DecimalSI", "BinarySI", "DecimalExponent"]),
)
def test_integers_round_trip_through_format_and_parse(amount: int, fmt: QuantityFormat) -> None:
    assert parse_quantity(format_quantity(amount, fmt)) == amount


@given(
    digits=st.integers(min_value=0, max_value=10**25),
    zeros=st.integers(min_value=0, max_value=3),
    suffix=st.sampled_from(
        ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
    ),
)
def test_digits_and_a_suffix_parse_as_the_general_path(
    digits: int, zeros: int, suffix: str
) -> None:
    # A fraction part sends the same value through the general parser.
    plain = "0" * zeros + str(digits) + suffix
    assert parse_quantity(plain) == parse_quantity(f"{digits}.0{suffix}")


@given(nanos=st.integers(min_value=-(10**15), max_value=10**15))
def test_nano_multiples_round_trip(nanos: int) -> None:
    amount = Fraction(nanos, 10**9)
    assert parse_quantity(format_quantity(amount)) == amount


class _Holder(BaseModel):
    q: Quantity
    qs: dict[str, Quantity] = {}


@pytest.mark.parametrize("raw", ["1.5Gi", "500m", 2, 0.5, "1e3"], ids=repr)
def test_pydantic_type_keeps_the_original_text(raw: str | int | float) -> None:
    holder = _Holder.model_validate({"q": raw})
    assert holder.q.fraction == parse_quantity(raw)
    dumped = holder.model_dump(mode="json")["q"]
    assert dumped == raw
    assert type(dumped) is type(raw)


def test_pydantic_type_refuses_bad_values_with_the_reason() -> None:
    with pytest.raises(ValidationError) as info:
        _Holder.model_validate({"q": "1", "qs": {"cpu": "1Qi"}})
    (error,) = info.value.errors()
    assert error["loc"] == ("qs", "cpu")
    assert "unknown suffix 'Qi'" in error["msg"]
    with pytest.raises(ValidationError, match="expected a quantity"):
        _Holder.model_validate({"q": [1]})


def test_quantities_compare_by_value() -> None:
    assert Quantity("1Gi") == Quantity("1024Mi")
    assert hash(Quantity("1Gi")) == hash(Quantity("1024Mi"))
    assert Quantity("500m") < Quantity("1")
    assert Quantity.of(Fraction(3, 2)).raw == "1500m"
    assert Quantity.of(2**30, "BinarySI").raw == "1Gi"
    assert str(Quantity(2)) == "2"
    assert repr(Quantity("1Gi")) == "Quantity('1Gi')"
