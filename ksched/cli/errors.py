"""Errors the CLI reports as one clear line instead of a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: the message says which file/field and why."""


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user (loaded lazily to keep startup fast)."""
    from ksched.api import ObjectError, QuantityError
    from ksched.config import ConfigError

    found: list[type[BaseException]] = [UsageError, ConfigError, ObjectError, QuantityError]
    try:
        from ksched.traces import TraceFormatError

        found.append(TraceFormatError)
    except ImportError:
        pass
    return tuple(found)
