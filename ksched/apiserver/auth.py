"""Authentication (bearer tokens from a token file) and authorisation (a small RBAC-like policy).

Token file: upstream's ``--token-auth-file`` CSV, one ``token,user,uid[,"group1,group2"]``
a line. Policy file (YAML)::

    rules:
      - users: [scheduler]              # or groups: [...]
        verbs: [get, list, watch, create, update, patch]
        resources: [pods, pods/binding, pods/status, events, nodes, leases]
      - groups: [system:masters]
        verbs: ["*"]
        resources: ["*"]

A request is allowed when one rule names its user (or one of its groups),
its verb and its resource (``pods``, or ``pods/binding`` for a subresource);
``*`` matches anything. Without a policy file every authenticated user may do
everything. Non-resource paths (discovery, ``/version``, OpenAPI, health)
are open to every authenticated user.
"""

from __future__ import annotations

import csv
import hmac
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["AuthError", "Authorizer", "TokenAuthenticator", "User"]

ANONYMOUS_ADMIN = "system:anonymous"
VERBS = frozenset(
    {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "*"}
)


class AuthError(ValueError):
    """A token or policy file that cannot be used: the message names the file, line and reason."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    uid: str
    groups: tuple[str, ...]


class TokenAuthenticator:
    """Maps bearer tokens to users; compares in constant time."""

    def __init__(self, users: dict[str, User]) -> None:
        self._users = users

    @classmethod
    def from_file(cls, path: Path) -> TokenAuthenticator:
        try:
            text = path.read_text()
        except OSError as exc:
            raise AuthError(f"{path}: cannot read token file: {exc.strerror}") from None
        users: dict[str, User] = {}
        for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not row or not "".join(row).strip() or row[0].startswith("#"):
                continue
            if len(row) < 3:
                raise AuthError(
                    f"{path}, line {line_no}: expected token,user,uid[,groups], "
                    f"got {len(row)} fields"
                )
            token, name, uid = (field.strip() for field in row[:3])
            if not token or not name:
                raise AuthError(f"{path}, line {line_no}: token and user must not be empty")
            if token in users:
                raise AuthError(f"{path}, line {line_no}: duplicate token")
            groups = (
                tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            )
            users[token] = User(name, uid, (*groups, "system:authenticated"))
        if not users:
            raise AuthError(f"{path}: no tokens")
        return cls(users)

    def authenticate(self, token: str) -> User | None:
        for known, user in self._users.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return user
        return None

    def first_token(self, prefer_group: str = "system:masters") -> tuple[str, User]:
        """A token for a generated kubeconfig: an admin's if there is one."""
        for token, user in self._users.items():
            if prefer_group in user.groups:
                return token, user
        return next(iter(self._users.items()))


@dataclass(frozen=True, slots=True)
class _Rule:
    users: frozenset[str]
    groups: frozenset[str]
    verbs: frozenset[str]
    resources: frozenset[str]

    def allows(self, user: User, verb: str, resource: str) -> bool:
        who = (
            "*" in self.users or user.name in self.users or bool(self.groups & {*user.groups, "*"})
        )
        return (
            who
            and ("*" in self.verbs or verb in self.verbs)
            and ("*" in self.resources or resource in self.resources)
        )


def _strings(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AuthError(f"{where}: must be a list of strings")
    return frozenset(value)


class Authorizer:
    """Allows or refuses ``(user, verb, resource)``; ``None`` rules allow everything."""

    def __init__(self, rules: list[_Rule] | None) -> None:
        self._rules = rules

    @classmethod
    def from_file(cls, path: Path) -> Authorizer:
        try:
            doc = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise AuthError(f"{path}: cannot read policy file: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise AuthError(f"{path}: invalid YAML: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
            raise AuthError(f"{path}: expected a mapping with a 'rules' list")
        rules: list[_Rule] = []
        for i, raw in enumerate(doc["rules"]):
            where = f"{path}: rules[{i}]"
            if not isinstance(raw, dict):
                raise AuthError(f"{where}: must be a mapping")
            unknown = set(raw) - {"users", "groups", "verbs", "resources"}
            if unknown:
                raise AuthError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
            verbs = _strings(raw.get("verbs"), f"{where}.verbs")
            bad = verbs - VERBS
            if bad:
                raise AuthError(f"{where}.verbs: unknown verb(s) {', '.join(sorted(bad))}")
            rule = _Rule(
                _strings(raw.get("users"), f"{where}.users"),
                _strings(raw.get("groups"), f"{where}.groups"),
                verbs,
                _strings(raw.get("resources"), f"{where}.resources"),
            )
            if not (rule.users or rule.groups) or not rule.verbs or not rule.resources:
                raise AuthError(f"{where}: needs users or groups, verbs and resources")
            rules.append(rule)
        return cls(rules)

    def allows(self, user: User, verb: str, resource: str) -> bool:
        if self._rules is None or "system:masters" in user.groups:
            return True
        return any(rule.allows(user, verb, resource) for rule in self._rules)
