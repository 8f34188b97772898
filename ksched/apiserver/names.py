"""Upstream's name rules (``k8s.io/apimachinery/pkg/util/validation``), shared by every check."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

__all__ = ["DNS1123_LABEL", "DNS1123_SUBDOMAIN", "label_value_problem", "qualified_name_problem"]

DNS1123_LABEL: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN: Final = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_NAME_PART: Final = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE: Final = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


# Memoised: the same label keys and values come back on every object.
@lru_cache(maxsize=8192)
def qualified_name_problem(key: str) -> str | None:
    """``IsQualifiedName`` (label keys, annotation keys, finalizers): why ``key`` is not one."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return "prefix part must be a non-empty lowercase RFC 1123 subdomain"
    if not name or len(name) > 63 or not _NAME_PART.match(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (at most 63 characters)"
        )
    return None


@lru_cache(maxsize=8192)
def label_value_problem(value: str) -> str | None:
    """``IsValidLabelValue``: why ``value`` is not a label value."""
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return (
            "a valid label value must be an empty string or consist of alphanumeric "
            "characters, '-', '_' or '.', and must start and end with an alphanumeric "
            "character (at most 63 characters)"
        )
    return None
