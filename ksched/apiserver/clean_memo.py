"""Checks skipped for bodies already found clean, remembered by their encoding.

Replicas of one template and a replay's pods of one shape send the same
fields again and again under other names; a check whose verdict depends only
on those fields need not run twice. Only clean verdicts are kept (refusals
are rare and must name their fields), in a bounded set that starts over
when full.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ksched.apiserver.errors import Causes

__all__ = ["CleanMemo"]


class CleanMemo:
    """``check(value)``, or ``[]`` for a ``value`` whose encoding (under ``prefix``) passed."""

    def __init__(self, limit: int = 4096, *, sort_keys: bool = False) -> None:
        self.limit = limit
        self.option = orjson.OPT_SORT_KEYS if sort_keys else 0
        self._clean: set[bytes] = set()

    def causes(self, prefix: str, value: Any, check: Callable[[], Causes]) -> Causes:
        try:
            key: bytes | None = prefix.encode() + orjson.dumps(value, option=self.option)
        except (TypeError, orjson.JSONEncodeError):
            key = None
        if key is not None and key in self._clean:
            return []
        causes = check()
        if key is not None and not causes:
            if len(self._clean) >= self.limit:
                self._clean.clear()
            self._clean.add(key)
        return causes
