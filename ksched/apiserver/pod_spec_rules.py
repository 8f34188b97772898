"""Upstream's pod spec rules for the fields a scheduler reads.

A subset of ``ValidatePodSpec`` (``pkg/apis/core/validation/validation.go``),
with its field paths and messages: resource amounts (non-negative, requests
within limits, whole extended resources), ports, tolerations, node selector,
node and pod (anti-)affinity, and topology spread constraints. A pod the real
API server refuses must not reach the scheduler through ours either: plugins
read these fields as already valid. Runs on shape-checked objects (types are
right), for pods and for the pod templates of workloads alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Final

from ksched.api import QuantityError, parse_quantity
from ksched.apiserver.clean_memo import CleanMemo
from ksched.apiserver.errors import Causes, not_supported
from ksched.apiserver.names import label_value_problem, qualified_name_problem

__all__ = ["pod_spec_causes"]


_INTEGER: Final = re.compile(r"^-?[0-9]+$")
_QUANTITY: Final = "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_TAINT_EFFECTS: Final = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_PROTOCOLS: Final = ("TCP", "UDP", "SCTP")
_SPREAD_ACTIONS: Final = ("DoNotSchedule", "ScheduleAnyway")
_POLICIES: Final = ("Honor", "Ignore")
_NODE_OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
_LABEL_OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist")


def _extended(resource: str) -> bool:
    """Upstream ``IsExtendedResourceName``: domain-prefixed, outside kubernetes.io."""
    domain = resource.partition("/")[0] if "/" in resource else ""
    return bool(domain) and not (
        domain == "kubernetes.io"
        or domain.endswith(".kubernetes.io")
        or resource.startswith("requests.")
    )


def _amounts(table: Mapping[str, Any], where: str, causes: Causes) -> dict[str, Fraction]:
    """Each quantity's value; a negative one, or a fractional extended one, is a cause."""
    out: dict[str, Fraction] = {}
    for resource, raw in table.items():
        try:
            amount = parse_quantity(raw)
        except (QuantityError, TypeError, ValueError):
            why = f"quantities must match {_QUANTITY}"
        else:
            out[resource] = amount
            if amount >= 0 and (amount.denominator == 1 or not _extended(resource)):
                continue
            why = "must be an integer" if amount >= 0 else "must be greater than or equal to 0"
        causes.append((f"{where}[{resource}]", f"Invalid value: {raw!r}: {why}"))
    return out


def _resources(c: Mapping[str, Any], at: str) -> Causes:
    """``ValidateResourceRequirements``: amounts; requests within (extended: equal to) limits."""
    causes: Causes = []
    resources = c.get("resources") or {}
    limits_given, requests_given = resources.get("limits") or {}, resources.get("requests") or {}
    limits = _amounts(limits_given, f"{at}.resources.limits", causes)
    requests = _amounts(requests_given, f"{at}.resources.requests", causes)
    for resource, amount in requests.items() if limits else ():
        limit = limits.get(resource)
        if limit is None or (amount == limit):
            continue
        if amount > limit:
            why = "must be less than or equal to"
        elif _extended(resource):
            why = "must be equal to"
        else:
            continue
        causes.append(
            (
                f"{at}.resources.requests",
                f"Invalid value: {requests_given[resource]!r}: {why} {resource} limit of "
                f"{limits_given[resource]}",
            )
        )
    return causes


def _ports(c: Mapping[str, Any], at: str) -> Causes:
    causes: Causes = []
    for i, port in enumerate(c.get("ports") or []):
        where = f"{at}.ports[{i}]"
        number = port.get("containerPort")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            causes.append(
                (
                    f"{where}.containerPort",
                    f"Invalid value: {number!r}: must be between 1 and 65535, inclusive",
                )
            )
        host = port.get("hostPort")
        if host is not None and host != 0 and not 1 <= host <= 65535:
            causes.append(
                (
                    f"{where}.hostPort",
                    f"Invalid value: {host!r}: must be between 1 and 65535, inclusive",
                )
            )
        protocol = port.get("protocol")
        if protocol is not None and protocol not in _PROTOCOLS:
            causes.append(not_supported(f"{where}.protocol", protocol, _PROTOCOLS))
    return causes


def _tolerations(spec: Mapping[str, Any], at: str) -> Causes:
    """Upstream ``ValidateTolerations``."""
    causes: Causes = []
    for i, t in enumerate(spec.get("tolerations") or []):
        where = f"{at}.tolerations[{i}]"
        key, operator, value = t.get("key") or "", t.get("operator") or "", t.get("value") or ""
        effect = t.get("effect") or ""
        if key:
            problem = qualified_name_problem(key)
            if problem:
                causes.append((f"{where}.key", f"Invalid value: {key!r}: {problem}"))
        elif operator != "Exists":
            causes.append(
                (
                    f"{where}.operator",
                    f"Invalid value: {operator!r}: operator must be Exists when `key` is empty, "
                    'which means "match all values and all keys"',
                )
            )
        if t.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(
                (
                    f"{where}.effect",
                    f"Invalid value: {effect!r}: effect must be 'NoExecute' when "
                    "`tolerationSeconds` is set",
                )
            )
        if operator in ("Equal", ""):
            problem = label_value_problem(value)
            if problem:
                causes.append((f"{where}.operator", f"Invalid value: {value!r}: {problem}"))
        elif operator == "Exists":
            if value:
                causes.append(
                    (
                        f"{where}.operator",
                        "Invalid value: value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            causes.append(not_supported(f"{where}.operator", operator, ("Equal", "Exists")))
        if effect and effect not in _TAINT_EFFECTS:
            causes.append(not_supported(f"{where}.effect", effect, _TAINT_EFFECTS))
    return causes


def _requirement(
    expr: Mapping[str, Any], where: str, operators: tuple[str, ...], node: bool
) -> Causes:
    """One ``matchExpressions`` item: a valid key, a known operator, values as it needs them."""
    causes: Causes = []
    key, operator, values = expr.get("key") or "", expr.get("operator"), expr.get("values") or []
    problem = qualified_name_problem(key)
    if problem:
        causes.append((f"{where}.key", f"Invalid value: {key!r}: {problem}"))
    if operator in ("In", "NotIn"):
        if not values:
            causes.append(
                (
                    f"{where}.values",
                    "Required value: must be specified when `operator` is 'In' or 'NotIn'",
                )
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            causes.append(
                (
                    f"{where}.values",
                    "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    elif node and operator in ("Gt", "Lt"):
        if len(values) != 1:
            causes.append(
                (
                    f"{where}.values",
                    "Required value: must be specified single value when `operator` is "
                    "'Lt' or 'Gt'",
                )
            )
        elif not _INTEGER.match(str(values[0])):
            causes.append(
                (f"{where}.values[0]", f"Invalid value: {values[0]!r}: must be an integer")
            )
    else:
        causes.append(not_supported(f"{where}.operator", operator, operators))
    return causes


def _node_selector_term(term: Mapping[str, Any], where: str) -> Causes:
    causes: Causes = []
    for j, expr in enumerate(term.get("matchExpressions") or []):
        causes += _requirement(expr, f"{where}.matchExpressions[{j}]", _NODE_OPERATORS, True)
    for j, field in enumerate(term.get("matchFields") or []):
        at = f"{where}.matchFields[{j}]"
        if field.get("key") != "metadata.name":
            causes.append(
                (
                    f"{at}.key",
                    f"Invalid value: {field.get('key')!r}: not a valid field selector key",
                )
            )
        if field.get("operator") not in ("In", "NotIn"):
            causes.append(not_supported(f"{at}.operator", field.get("operator"), ("In", "NotIn")))
        elif len(field.get("values") or []) != 1:
            causes.append(
                (
                    f"{at}.values",
                    "Required value: must be only one value when `operator` is 'In' or "
                    "'NotIn' for node field selector",
                )
            )
    return causes


def _label_selector(selector: Mapping[str, Any] | None, where: str) -> Causes:
    causes: Causes = []
    if selector is None:
        return causes
    for key, value in (selector.get("matchLabels") or {}).items():
        problem = qualified_name_problem(key) or label_value_problem(value)
        if problem:
            causes.append((f"{where}.matchLabels", f"Invalid value: {key!r}: {problem}"))
    for j, expr in enumerate(selector.get("matchExpressions") or []):
        causes += _requirement(expr, f"{where}.matchExpressions[{j}]", _LABEL_OPERATORS, False)
    return causes


def _weight(weight: Any, where: str) -> Causes:
    if not isinstance(weight, int) or not 1 <= weight <= 100:
        return [(f"{where}.weight", f"Invalid value: {weight!r}: must be in the range 1-100")]
    return []


def _pod_affinity_term(term: Mapping[str, Any], where: str) -> Causes:
    causes = _label_selector(term.get("labelSelector"), f"{where}.labelSelector")
    causes += _label_selector(term.get("namespaceSelector"), f"{where}.namespaceSelector")
    return causes + _topology_key(term.get("topologyKey") or "", f"{where}.topologyKey")


def _topology_key(key: str, at: str) -> Causes:
    if not key:
        return [(at, "Required value: can not be empty")]
    problem = qualified_name_problem(key)
    return [(at, f"Invalid value: {key!r}: {problem}")] if problem else []


def _affinity(spec: Mapping[str, Any], at: str) -> Causes:
    """Upstream ``validateAffinity``: node terms, pod terms, preference weights."""
    causes: Causes = []
    affinity = spec.get("affinity") or {}
    node = affinity.get("nodeAffinity") or {}
    where = f"{at}.affinity.nodeAffinity"
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        terms = required.get("nodeSelectorTerms") or []
        req_at = f"{where}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        if not terms:
            causes.append((req_at, "Required value: must have at least one node selector term"))
        for i, term in enumerate(terms):
            causes += _node_selector_term(term, f"{req_at}[{i}]")
    for i, pref in enumerate(node.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
        pref_at = f"{where}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        causes += _weight(pref.get("weight"), pref_at)
        causes += _node_selector_term(pref.get("preference") or {}, f"{pref_at}.preference")
    for kind in ("podAffinity", "podAntiAffinity"):
        block = affinity.get(kind) or {}
        where = f"{at}.affinity.{kind}"
        for i, term in enumerate(block.get("requiredDuringSchedulingIgnoredDuringExecution") or []):
            causes += _pod_affinity_term(
                term, f"{where}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"
            )
        for i, pref in enumerate(
            block.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        ):
            pref_at = f"{where}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            causes += _weight(pref.get("weight"), pref_at)
            causes += _pod_affinity_term(
                pref.get("podAffinityTerm") or {}, f"{pref_at}.podAffinityTerm"
            )
    return causes


def _spread(spec: Mapping[str, Any], at: str) -> Causes:
    """Upstream ``validateTopologySpreadConstraints``."""
    causes: Causes = []
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(spec.get("topologySpreadConstraints") or []):
        where = f"{at}.topologySpreadConstraints[{i}]"
        skew = c.get("maxSkew")
        if not isinstance(skew, int) or skew <= 0:
            causes.append(
                (f"{where}.maxSkew", f"Invalid value: {skew!r}: must be greater than zero")
            )
        key = c.get("topologyKey") or ""
        causes += _topology_key(key, f"{where}.topologyKey")
        action = c.get("whenUnsatisfiable") or ""
        if action not in _SPREAD_ACTIONS:
            causes.append(not_supported(f"{where}.whenUnsatisfiable", action, _SPREAD_ACTIONS))
        domains = c.get("minDomains")
        if domains is not None:
            if domains <= 0:
                causes.append(
                    (f"{where}.minDomains", f"Invalid value: {domains}: must be greater than 0")
                )
            elif action != "DoNotSchedule":
                causes.append(
                    (
                        f"{where}.minDomains",
                        f"Invalid value: {domains}: can only use minDomains if "
                        f"whenUnsatisfiable=DoNotSchedule, not {action}",
                    )
                )
        for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            value = c.get(policy)
            if value is not None and value not in _POLICIES:
                causes.append(not_supported(f"{where}.{policy}", value, _POLICIES))
        if (key, action) in seen:
            causes.append(
                (
                    f"{where}.{{topologyKey, whenUnsatisfiable}}",
                    f"Duplicate value: {{{key}, {action}}}",
                )
            )
        seen.add((key, action))
        causes += _label_selector(c.get("labelSelector"), f"{where}.labelSelector")
    return causes


def _node_selector(spec: Mapping[str, Any], at: str) -> Causes:
    causes: Causes = []
    for key, value in (spec.get("nodeSelector") or {}).items():
        problem = qualified_name_problem(key) or label_value_problem(value)
        if problem:
            causes.append((f"{at}.nodeSelector", f"Invalid value: {key!r}: {problem}"))
    return causes


def pod_spec_causes(spec: Mapping[str, Any], at: str) -> Causes:
    """The scheduling-relevant rules ``spec`` (at field path ``at``) breaks.

    Clean specs are remembered: replicas of one template, and a replay's pods of one
    shape, repeat the same spec under other names.
    """
    return _CLEAN.causes(at, spec, lambda: _spec_causes(spec, at))


_CLEAN = CleanMemo()


def _spec_causes(spec: Mapping[str, Any], at: str) -> Causes:
    causes: Causes = []
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            where = f"{at}.{field}[{i}]"
            causes += _resources(c, where)
            causes += _ports(c, where)
    return (
        causes
        + _tolerations(spec, at)
        + _node_selector(spec, at)
        + _affinity(spec, at)
        + _spread(spec, at)
    )
