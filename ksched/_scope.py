"""``Scoped``: a resource that a ``with`` block sets up and always tears down.

The API server run as a child process (``ksched.apiserver.ApiServerProcess``)
and the real control plane, its client and its fake nodes
(``ksched.testing.k8s``) are all used in ``with`` blocks; this writes that
protocol once, so each says only what entering and leaving do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

__all__ = ["Scoped"]


class Scoped(ABC):
    """``with obj as x``: ``_enter()``, then ``x`` is ``obj``; ``_exit()`` however the block ends.

    Exceptions from the block propagate: a teardown never swallows them.
    """

    @abstractmethod
    def _enter(self) -> None:
        """Acquire what the resource holds, once the block begins."""

    @abstractmethod
    def _exit(self) -> None:
        """Release what the resource holds; called on every exit from the block."""

    def __enter__(self) -> Self:
        self._enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit()
