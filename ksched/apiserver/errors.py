"""``metav1.Status`` errors: every failure a client sees is one of these.

Handlers raise ``StatusError``; the app turns it into the JSON body and HTTP
code kubectl and client-go expect (``reason`` drives their error types, e.g.
``IsNotFound``, ``IsConflict``, ``IsAlreadyExists``).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Causes",
    "StatusError",
    "already_exists",
    "bad_request",
    "conflict",
    "expired",
    "forbidden",
    "invalid",
    "method_not_allowed",
    "not_found",
    "not_supported",
    "status_body",
    "unauthorized",
]


class StatusError(Exception):
    """An API error with its HTTP code, ``reason`` and optional ``details``."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.reason, self.message, self.details)


def status_body(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 300 else "Success",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    if code < 300:
        del body["reason"]
    return body


def _details(kind: str, name: str, group: str = "") -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        _details(resource, name, group),
    )


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        _details(resource, name, group),
    )


def conflict(resource: str, name: str, why: str, group: str = "") -> StatusError:
    what = _qualified(resource, group)
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {what} "{name}": {why}',
        _details(resource, name, group),
    )


# An object's problems: ``(field path, message)`` pairs, as upstream's field errors.
Causes = list[tuple[str, str]]


def not_supported(at: str, value: Any, allowed: tuple[str, ...]) -> tuple[str, str]:
    """Upstream ``field.NotSupported``: the value, and the values that are."""
    listed = ", ".join(f'"{v}"' for v in allowed)
    return (at, f"Unsupported value: {value!r}: supported values: {listed}")


def invalid(kind: str, name: str, causes: Causes, group: str = "") -> StatusError:
    """422 Invalid; ``causes`` are ``(field path, message)`` pairs, as upstream's field errors."""
    text = ", ".join(f"{field}: {message}" if field else message for field, message in causes)
    details = _details(kind, name, group)
    details["causes"] = [
        {"reason": "FieldValueInvalid", "message": message, "field": field}
        for field, message in causes
    ]
    return StatusError(422, "Invalid", f'{kind} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def method_not_allowed(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str) -> StatusError:
    return StatusError(403, "Forbidden", message)
