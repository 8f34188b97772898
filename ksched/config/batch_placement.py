"""``BatchPlacement``: the document that makes a grid policy a batch (solver) policy.

A policy file is a KubeSchedulerConfiguration; a second YAML document of
kind ``BatchPlacement`` (ksched's own API group, Kubernetes conventions:
``apiVersion``/``kind``, camelCase fields, unknown fields refused) makes the
cell replay with ``ksched.solvers.BatchArrivalReplay``: pods wait in windows
and one solve places each window, ranked by the profile's plugins. Without
it the cell replays one pod at a time, as the paper's policies do.

The solvers are imported only when a batch policy is checked or run: they
pull in OR-Tools, which the one-pod-at-a-time grid does not need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from ksched.config.errors import ConfigError, ConfigIssue
from ksched.config.load import load_config_text, read_config_file
from ksched.config.types import KubeSchedulerConfiguration

__all__ = [
    "API_VERSION",
    "KIND",
    "BatchPlacement",
    "PolicyDocuments",
    "load_policy",
    "split_policy",
]

API_VERSION: Final = "ksched.io/v1alpha1"
KIND: Final = "BatchPlacement"
_SEPARATOR: Final = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)


class BatchPlacement(BaseModel):
    """Window size, solver, time budget per window, candidates per pod, dry-run order and
    objective weights (``ksched.solvers.Objective``'s fields) of a batch policy."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    api_version: Literal["ksched.io/v1alpha1"]
    kind: Literal["BatchPlacement"]
    window: int = Field(default=100, ge=1)
    solver: Literal["cpsat", "greedy"] = "cpsat"
    time_limit_seconds: float = Field(default=0.1, gt=0)
    top_k: int = Field(default=8, ge=1)
    order: Literal["arrival", "size"] = "arrival"
    objective: dict[str, int] = Field(default_factory=dict)

    def replay_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``BatchArrivalReplay`` (imports the solvers)."""
        from ksched.solvers import Objective

        return {
            "window": self.window,
            "solver": self.solver,
            "time_limit": self.time_limit_seconds,
            "top_k": self.top_k,
            "order": self.order,
            "objective": Objective.model_validate(self.objective),
        }


@dataclass(frozen=True)
class PolicyDocuments:
    """A policy file's documents; each text is padded with blank lines so that a parser's
    line numbers are the file's."""

    config: str
    batch: str | None

    def batch_placement(self, source: str) -> BatchPlacement | None:
        """The ``BatchPlacement`` document, validated; errors name the file, line and field."""
        if self.batch is None:
            return None
        try:
            data = yaml.safe_load(self.batch)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = None if mark is None else mark.line + 1
            raise ConfigError(source, [ConfigIssue("", f"invalid YAML: {exc}", line)]) from None
        if not isinstance(data, dict):
            raise ConfigError(
                source,
                [ConfigIssue("", f"the second document must be a {KIND} mapping", self._first())],
            )
        try:
            placement = BatchPlacement.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(source, self._issues(exc, ())) from None
        try:
            placement.replay_arguments()
        except ValidationError as exc:
            raise ConfigError(source, self._issues(exc, ("objective",))) from None
        return placement

    def _issues(self, exc: ValidationError, prefix: tuple[str, ...]) -> list[ConfigIssue]:
        """Pydantic's errors as issues, each at the line of its top-level field."""
        issues = []
        for err in exc.errors():
            loc = [*prefix, *(str(p) for p in err["loc"])]
            line = self._line_of(loc[0] if loc else "")
            issues.append(ConfigIssue(".".join(loc), err["msg"], line))
        return issues

    def _first(self) -> int | None:
        assert self.batch is not None
        for number, text in enumerate(self.batch.splitlines(), 1):
            if text.strip() and not text.lstrip().startswith("#"):
                return number
        return None

    def _line_of(self, key: str) -> int | None:
        """The line where top-level ``key`` is written, else the document's first line."""
        assert self.batch is not None
        pattern = re.compile(rf"^{re.escape(key)}\s*:") if key else None
        for number, text in enumerate(self.batch.splitlines(), 1):
            if pattern is not None and pattern.match(text):
                return number
        return self._first()


def split_policy(text: str) -> PolicyDocuments:
    """The configuration document and, if present, the ``BatchPlacement`` one.

    At most two documents; a separator before the first one is allowed.
    """
    parts: list[tuple[int, str]] = []
    start, line = 0, 1
    for match in _SEPARATOR.finditer(text):
        parts.append((line, text[start : match.start()]))
        line += text.count("\n", start, match.end())
        start = match.end()
    parts.append((line, text[start:]))
    kept = [(first, body) for first, body in parts if _has_content(body)]
    if len(kept) > 2:
        raise ValueError(
            f"a policy file holds at most two YAML documents (a KubeSchedulerConfiguration "
            f"and a {KIND}); this one has {len(kept)}"
        )
    padded = ["\n" * (first - 1) + body for first, body in kept] or [text]
    return PolicyDocuments(padded[0], padded[1] if len(padded) == 2 else None)


def _has_content(body: str) -> bool:
    return any(s.strip() and not s.lstrip().startswith("#") for s in body.splitlines())


def load_policy(path: str | Path) -> tuple[KubeSchedulerConfiguration, BatchPlacement | None]:
    """A policy file's configuration and its ``BatchPlacement`` document, if any."""
    source, text = str(path), read_config_file(path)
    try:
        documents = split_policy(text)
    except ValueError as exc:
        raise ConfigError(source, [ConfigIssue("", str(exc))]) from None
    return load_config_text(documents.config, source), documents.batch_placement(source)
