"""Configuration errors that name the file, the line, the field and the reason.

A refused configuration must be fixable from the message alone, so every
error carries the field path in the API's own spelling
(``profiles[0].plugins.score.enabled[2].name``) and, when the configuration
came from YAML, the line where that field is written.  Pydantic's own
exceptions never escape to the user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One thing wrong with a configuration: where (``path``, ``line``) and why."""

    path: str
    reason: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class ConfigError(ValueError):
    """A configuration was refused; ``str()`` is ``"<file>[:line]: <field.path>: <reason>"``.

    Several issues (one pydantic pass finds them all) print one per line, so
    a user fixes a file in one round trip, as with upstream's aggregated errors.
    """

    def __init__(self, source: str, issues: Sequence[ConfigIssue]) -> None:
        self.source = source
        self.issues = tuple(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(f"{self._where(issue)}: {issue}" for issue in self.issues)

    def _where(self, issue: ConfigIssue) -> str:
        where = self.source
        if issue.line is not None:
            where += f":{issue.line}"
            if issue.column is not None:
                where += f":{issue.column}"
        return where


class FieldError(ValueError):
    """Raised inside a model validator to blame a field below the model being validated.

    Pydantic places a model validator's error on the model itself; the loader
    appends ``field`` to that location so the message names the real culprit.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class PluginRegistrationError(ValueError):
    """A plugin could not be registered: a duplicate name or a malformed entry point."""


@dataclass(frozen=True, slots=True)
class ConfigOrigin:
    """Where a configuration came from, so later checks (resolution) can point into the file."""

    source: str = "<config>"
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        """Line of ``path``, or of its nearest ancestor written in the file (missing fields)."""
        while True:
            line = self.lines.get(path)
            if line is not None or not path:
                return line
            cut = max(path.rfind("."), path.rfind("["))
            path = path[: max(cut, 0)]

    def issue(self, path: str, reason: str) -> ConfigIssue:
        return ConfigIssue(path, reason, self.line_of(path))

    def error(self, path: str, reason: str) -> ConfigError:
        return ConfigError(self.source, [self.issue(path, reason)])


def join_path(prefix: str, *parts: str | int) -> str:
    """Field path in the API's spelling: ``profiles[0].plugins.score``."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif path and not part.startswith("["):
            path += f".{part}"
        else:
            path += part
    return path


def issues_from_validation(
    exc: ValidationError, origin: ConfigOrigin, prefix: str = ""
) -> list[ConfigIssue]:
    """Pydantic's errors rewritten as field-path issues, in the file's terms."""
    issues = []
    for err in exc.errors():
        path = join_path(prefix, *err["loc"])
        reason = err["msg"]
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, FieldError):
            path, reason = join_path(path, cause.field), cause.reason
        elif err["type"] == "extra_forbidden":
            reason = f'unknown field "{err["loc"][-1]}"'
        elif err["type"] == "missing":
            reason = "required field is missing"
        elif err["type"] == "value_error":
            reason = reason.removeprefix("Value error, ")
        elif isinstance(err["input"], str | int | float | bool):
            reason = f"{reason} (got {err['input']!r})"
        issues.append(origin.issue(path, reason))
    return issues
