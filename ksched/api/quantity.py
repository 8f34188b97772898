"""Kubernetes ``resource.Quantity``: exact parsing, canonical formatting, a pydantic type.

Values are ``Fraction`` so that sums of requests are exact, as upstream's
arbitrary-precision arithmetic is; integers appear only at the edge
(``value``/``milli_value``), rounded the way the Go methods round.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache, total_ordering
from typing import Any, Final, Literal, final

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

__all__ = [
    "Quantity",
    "QuantityError",
    "QuantityFormat",
    "format_quantity",
    "milli_value",
    "parse_quantity",
    "value",
]

QuantityFormat = Literal["DecimalSI", "BinarySI", "DecimalExponent"]

_DECIMAL_SUFFIXES: Final = {
    "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
}  # fmt: skip
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT: Final = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT: Final = {0: ""} | {e // 10: s for s, e in _BINARY_SUFFIXES.items()}

# A sign, digits and an optional fraction, then a suffix checked separately
# against upstream's tables so that errors can say which part is wrong.
_NUMBER: Final = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?([A-Za-z].*)?", re.ASCII | re.DOTALL)
_EXPONENT: Final = re.compile(r"[eE][+-]?\d+", re.ASCII)
# What manifests and trace loaders nearly always write: unsigned digits and a suffix.
_PLAIN: Final = re.compile(r"(\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)", re.ASCII)

# Upstream caps magnitudes at int64 max and rounds non-zero values up to 1n.
_MAX_INT: Final = 2**63 - 1
_MAX: Final = Fraction(_MAX_INT)
_NANO: Final = 10**9


class QuantityError(ValueError):
    """A string that Kubernetes would refuse as a resource quantity."""


def _bound(magnitude: Fraction) -> Fraction:
    """Round a non-negative value up to a whole nano and cap it, as ParseQuantity does."""
    if magnitude >= _MAX:
        return _MAX
    nanos = math.ceil(magnitude * _NANO)
    return Fraction(nanos, _NANO)


def _decimal(digits: int, ndigits: int, exponent: int) -> Fraction:
    """``digits * 10**exponent`` bounded, without building huge powers of ten."""
    if digits == 0:
        return Fraction(0)
    if ndigits + exponent > 19:  # at least 10**19, beyond int64
        return _MAX
    if ndigits + exponent < -9:  # below one nano: rounds up to it
        return Fraction(1, _NANO)
    return _bound(digits * Fraction(10) ** exponent)


def _plain(mantissa: int, suffix: str) -> Fraction:
    """``_parse_text`` of unsigned digits and a suffix, in integer arithmetic.

    Such a value is a whole number of nanos already, so ``_bound`` only caps it;
    reading hundreds of thousands of distinct requests (a synthetic trace) made
    the Fraction arithmetic of the general path a visible share of a replay.
    """
    shift = _BINARY_SUFFIXES.get(suffix)
    if shift is not None:
        whole = mantissa << shift
        return Fraction(whole) if whole < _MAX_INT else _MAX
    exponent = _DECIMAL_SUFFIXES[suffix]
    if exponent >= 0:
        whole = mantissa * 10**exponent
        return Fraction(whole) if whole < _MAX_INT else _MAX
    scale = 10**-exponent
    if mantissa >= _MAX_INT * scale:
        return _MAX
    return Fraction(mantissa, scale) if mantissa else Fraction(0)


@lru_cache(maxsize=4096)
def _parse_text(text: str) -> Fraction:
    plain = _PLAIN.fullmatch(text)
    if plain is not None:
        return _plain(int(plain[1]), plain[2])
    if not text:
        raise QuantityError("invalid quantity '': empty string")
    match = _NUMBER.fullmatch(text)
    # Upstream reads a digit-less string such as "." or "Gi" as zero; it is
    # always a typo, and the API server never emits one, so refuse it.
    if match is None or not (match[2] or match[3]):
        raise QuantityError(
            f"invalid quantity {text!r}: expected a number with an optional suffix,"
            " as in '500m', '1.5Gi' or '1e3'"
        )
    sign, frac, suffix = match[1], match[3] or "", match[4] or ""
    digits = match[2] + frac
    mantissa, ndigits = int(digits), len(digits.lstrip("0"))
    if suffix in _BINARY_SUFFIXES:
        magnitude = _bound(Fraction(mantissa << _BINARY_SUFFIXES[suffix], 10 ** len(frac)))
    elif suffix in _DECIMAL_SUFFIXES:
        magnitude = _decimal(mantissa, ndigits, _DECIMAL_SUFFIXES[suffix] - len(frac))
    elif _EXPONENT.fullmatch(suffix):
        magnitude = _decimal(mantissa, ndigits, int(suffix[1:]) - len(frac))
    else:
        raise QuantityError(
            f"invalid quantity {text!r}: unknown suffix {suffix!r} (expected one of"
            " n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an exponent such as e3)"
        )
    return -magnitude if sign == "-" else magnitude


def parse_quantity(q: str | int | float) -> Fraction:
    """The exact value of a quantity, as ``resource.ParseQuantity`` reads it.

    Numbers are read through their text, as upstream reads a JSON number.
    """
    if isinstance(q, bool):
        raise QuantityError(f"invalid quantity {q!r}: a boolean is not a quantity")
    if isinstance(q, int):
        return _parse_text(str(q))
    if isinstance(q, float):
        if not math.isfinite(q):
            raise QuantityError(f"invalid quantity {q!r}: not a finite number")
        return _parse_text(repr(q))
    if isinstance(q, str):
        return _parse_text(q)
    raise QuantityError(f"invalid quantity {q!r}: expected a string or a number")


def _round_away(x: Fraction) -> int:
    # Go's Value()/ScaledValue() round away from zero, so the ceiling for x >= 0.
    return math.ceil(x) if x >= 0 else math.floor(x)


def value(q: Fraction) -> int:
    """The integer value, rounded as ``Quantity.Value()`` (up, away from zero)."""
    return _round_away(q)


def milli_value(q: Fraction) -> int:
    """The value in thousandths, rounded as ``Quantity.MilliValue()``."""
    return _round_away(q * 1000)


def format_quantity(amount: Fraction | int, fmt: QuantityFormat = "DecimalSI") -> str:
    """The canonical text Kubernetes writes for ``amount`` (``Quantity.String()``).

    Decimal forms use the largest suffix that keeps an integer mantissa
    (``Fraction(3, 2)`` -> ``"1500m"``); ``BinarySI`` falls back to decimal for
    magnitudes under 1024 and for non-integers, as upstream does.
    """
    magnitude = _bound(abs(Fraction(amount)))
    if magnitude == 0:
        return "0"
    sign = "-" if amount < 0 else ""
    if fmt == "BinarySI" and magnitude >= 1024 and magnitude.denominator == 1:
        mantissa, power = int(magnitude), 0
        while mantissa % 1024 == 0 and power < 6:
            mantissa //= 1024
            power += 1
        return f"{sign}{mantissa}{_BINARY_BY_EXPONENT[power]}"
    mantissa, exponent = int(magnitude * _NANO), -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3  # suffixes step by thousands: lower the exponent to one
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    if fmt == "DecimalExponent":
        return f"{sign}{mantissa}" + (f"e{exponent}" if exponent else "")
    return f"{sign}{mantissa}{_DECIMAL_BY_EXPONENT[exponent]}"


@final
@total_ordering
class Quantity:
    """An immutable quantity that remembers the text it was read from.

    Serialising writes that text back (``"1.5Gi"`` stays ``"1.5Gi"``, the number
    ``2`` stays ``2``) so objects round-trip exactly; equality and ordering
    compare values, so ``Quantity("1Gi") == Quantity("1024Mi")``.
    """

    __slots__ = ("_fraction", "_raw")

    def __init__(self, raw: str | int | float) -> None:
        self._fraction = parse_quantity(raw)
        self._raw = raw

    @classmethod
    def of(cls, amount: Fraction | int, fmt: QuantityFormat = "DecimalSI") -> Quantity:
        """A new quantity for ``amount``, written in canonical form."""
        return cls(format_quantity(amount, fmt))

    @classmethod
    def exact(cls, raw: str, amount: Fraction) -> Quantity:
        """``Quantity(raw)`` without parsing, for a caller that wrote ``raw`` from ``amount``."""
        q = cls.__new__(cls)
        q._fraction = amount
        q._raw = raw
        return q

    @property
    def raw(self) -> str | int | float:
        """The text (or JSON number) the quantity was read from."""
        return self._raw

    @property
    def fraction(self) -> Fraction:
        return self._fraction

    def value(self) -> int:
        return value(self._fraction)

    def milli_value(self) -> int:
        return milli_value(self._fraction)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Quantity):
            return self._fraction == other._fraction
        return NotImplemented

    def __lt__(self, other: Quantity) -> bool:
        return self._fraction < other._fraction

    def __hash__(self) -> int:
        return hash(self._fraction)

    def __copy__(self) -> Quantity:
        return self  # immutable: copies of pods share their quantities

    def __deepcopy__(self, memo: dict[int, Any]) -> Quantity:
        return self

    def __str__(self) -> str:
        return str(self._raw)

    def __repr__(self) -> str:
        return f"Quantity({self._raw!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _serialize, when_used="json"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string"}, {"type": "number"}]}


# Manifests repeat a handful of quantities ("100m", "1Gi"); share the parsed
# objects. ``typed`` keeps 1 and 1.0 apart so each dumps as it was written.
_cached_quantity = lru_cache(maxsize=4096, typed=True)(Quantity)


def _validate(raw: object) -> Quantity:
    if isinstance(raw, Quantity):
        return raw
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):
        try:
            return _cached_quantity(raw)
        except QuantityError as exc:
            raise PydanticCustomError("quantity", "{reason}", {"reason": str(exc)}) from None
    raise PydanticCustomError(
        "quantity", "{reason}", {"reason": f"expected a quantity string or number, got {raw!r}"}
    )


def _serialize(q: Quantity) -> str | int | float:
    return q.raw
