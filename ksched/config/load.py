"""YAML to a validated ``KubeSchedulerConfiguration``, or a ``ConfigError`` naming file and field.

The YAML is composed to a node tree first: the same tree gives the data and
a map from field path to line, so an error found later (even at resolution,
which needs the plugin registry) still points at the line to edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from ksched.config.errors import (
    ConfigError,
    ConfigIssue,
    ConfigOrigin,
    issues_from_validation,
    join_path,
)
from ksched.config.types import API_VERSION, FROM_FILE, KIND, KubeSchedulerConfiguration


def default_config() -> KubeSchedulerConfiguration:
    """One ``default-scheduler`` profile with the default plugins, every field at its default."""
    return KubeSchedulerConfiguration()


def load_config(path: str | Path) -> KubeSchedulerConfiguration:
    """Read and validate a configuration file; an empty file means all defaults."""
    return load_config_text(read_config_file(path), source=str(path))


def read_config_file(path: str | Path) -> str:
    """A configuration file's text; an unreadable one is a ``ConfigError`` naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issue = ConfigIssue("", f"cannot read configuration: {exc}")
        raise ConfigError(str(path), [issue]) from None


def load_config_text(text: str, source: str = "<string>") -> KubeSchedulerConfiguration:
    """Validate configuration YAML; ``source`` names it in error messages."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(filter(None, (exc.context, exc.problem))) or "malformed"
        issue = ConfigIssue(
            "",
            f"invalid YAML: {problem}",
            None if mark is None else mark.line + 1,
            None if mark is None else mark.column + 1,
        )
        raise ConfigError(source, [issue]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [ConfigIssue("", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if node is not None:
        _map_lines(node, "", lines, source)
    return parse_config(data, source=source, lines=lines)


def parse_config(
    data: object, *, source: str = "<data>", lines: Mapping[str, int] | None = None
) -> KubeSchedulerConfiguration:
    """Validate already-parsed data (JSON, a dict); ``lines`` maps field paths to source lines."""
    origin = ConfigOrigin(source, lines or {})
    if data is None:
        return default_config().with_origin(origin)
    if not isinstance(data, Mapping):
        raise origin.error("", f"expected a {KIND} mapping, got {type(data).__name__}")
    # Required in a file, as upstream's decoder needs them to pick the type.
    for key, value in (("apiVersion", API_VERSION), ("kind", KIND)):
        if data.get(key) is None:
            raise origin.error(key, f"required field is missing: set {key}: {value}")
    try:
        cfg = KubeSchedulerConfiguration.model_validate(data, context=FROM_FILE)
    except ValidationError as exc:
        raise ConfigError(source, issues_from_validation(exc, origin)) from None
    return cfg.with_origin(origin)


def _map_lines(node: yaml.Node, path: str, lines: dict[str, int], source: str) -> None:
    """Record the 1-based line of every field and list item under ``node``.

    Also refuses a key repeated in one mapping: PyYAML keeps the last value
    silently, while upstream's strict decoder reports it.
    """
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            child = join_path(path, key)
            line = key_node.start_mark.line + 1
            if key in seen:
                issue = ConfigIssue(
                    child, f'duplicate field "{key}" (first at line {seen[key]})', line
                )
                raise ConfigError(source, [issue])
            seen[key] = line
            lines[child] = line
            _map_lines(value_node, child, lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = join_path(path, i)
            lines[child] = item.start_mark.line + 1
            _map_lines(item, child, lines, source)
