"""The REST semantics of every resource: create, read, update, patch, delete, subresources.

HTTP-free: ``app.py`` parses requests into calls here. All checks and the
store write of one request run without an ``await`` in between, so a request
is atomic against the others on the event loop; the only wait is for the
durable commit before the answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from ksched.api import format_time
from ksched.apiserver import errors
from ksched.apiserver.defaults import apply_defaults
from ksched.apiserver.errors import StatusError
from ksched.apiserver.event_view import CORE_EVENTS_KEY, EVENTS_VIEW_KEY, from_core, to_core
from ksched.apiserver.field_labels import field_labels
from ksched.apiserver.null_fields import drop_null_fields, holds_null
from ksched.apiserver.patch import PatchError, apply_patch
from ksched.apiserver.priority_classes import (
    PRIORITY_CLASSES,
    admit_pod,
    admit_priority_class,
    priority_class_update_causes,
    system_priority_classes,
)
from ksched.apiserver.resources import RESOURCES, Resource
from ksched.apiserver.selectors import match_label_selector_object, selector_matcher
from ksched.apiserver.store import Store, Watcher, encode_event
from ksched.apiserver.validation import (
    config_data_update_causes,
    shape_causes,
    validate_object,
    validate_pod_update,
)

__all__ = ["DEFAULT_NAMESPACES", "ListOptions", "Registry"]

DEFAULT_NAMESPACES: Final = ("default", "kube-system", "kube-public", "kube-node-lease")
_GENERATE_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"  # upstream's, no vowels
_TERMINAL: Final = ("Succeeded", "Failed")
_PODS: Final = "core/pods"
_NAMESPACES: Final = "core/namespaces"
# Kinds whose data an ``immutable: true`` freezes.
_DATA_KINDS: Final = frozenset({"core/configmaps", "core/secrets"})
# Kinds whose deletion removes the objects they own (background propagation).
_OWNER_KINDS: Final = frozenset({"apps/deployments", "apps/replicasets", "batch/jobs"})
_DEPENDENT_KEYS: Final = ("apps/replicasets", "core/pods")
# Deleting these returns the object, not a Status (upstream ReturnDeletedObject).
_RETURNS_OBJECT: Final = frozenset({"core/pods", "core/namespaces"})


_clock: list[Any] = [-1, ""]  # (whole second, its RFC 3339 text): formatting is not free


def _now() -> str:
    second = int(time.time())
    if _clock[0] != second:
        _clock[0], _clock[1] = second, format_time(datetime.fromtimestamp(second, UTC))
    return str(_clock[1])


# RFC 4122 version 4: variant bits 10 (bits 62-63) and version 0100 (bits 76-79), as uuid.UUID sets.
_UUID4_CLEAR: Final = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET: Final = (0x8000 << 48) | (4 << 76)


def _uid() -> str:
    """A random (version 4) UUID; uids must be unique, not secret, so the fast generator serves.

    Formatted by hand: building a ``uuid.UUID`` to print it was 4% of a create.
    """
    h = f"{random.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_OMITTED_WHEN_EMPTY: Final = ("labels", "annotations", "finalizers", "ownerReferences")


def _copy(obj: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    return copied


class ListOptions:
    """The query parameters of a list or watch, parsed once (400 on a bad one)."""

    def __init__(self, query: Mapping[str, str], res: Resource) -> None:
        self.matches = selector_matcher(
            query.get("labelSelector"), query.get("fieldSelector"), field_labels(res.key)
        )
        self.limit = _int_param(query, "limit", 0)
        self.continue_token = query.get("continue") or ""
        self.resource_version = query.get("resourceVersion") or ""
        self.watch = query.get("watch", "") in ("true", "1", "True")
        self.bookmarks = query.get("allowWatchBookmarks", "") in ("true", "1", "True")
        self.timeout = _int_param(query, "timeoutSeconds", 0)
        # Streaming lists (client-go's WatchList): the current objects, then a bookmark
        # annotated k8s.io/initial-events-end, then changes.
        self.send_initial_events = query.get("sendInitialEvents", "") in ("true", "1", "True")
        if self.resource_version and not self.resource_version.isdigit():
            raise errors.bad_request(
                f"invalid resourceVersion {self.resource_version!r}: must be a non-negative integer"
            )


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f"{name}: invalid value {raw!r}: must be an integer") from None
    if value < 0:
        raise errors.bad_request(f"{name}: invalid value {value}: must be >= 0")
    return value


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (for optional parts of a body)."""
    return value if isinstance(value, dict) else {}


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = obj["metadata"]
    return meta


def _owner_ref(owner: Mapping[str, Any]) -> str:
    return str(_meta(owner).get("uid", ""))


class Registry:
    """Resource semantics over a ``Store``."""

    def __init__(self, store: Store, bookmark_interval: float = 60.0) -> None:
        self.store = store
        self.bookmark_interval = bookmark_interval

    # -- helpers -------------------------------------------------------------------

    def _existing(self, res: Resource, ns: str, name: str) -> dict[str, Any]:
        obj = self.store.latest(res.key, ns, name)
        if obj is None:
            raise errors.not_found(res.plural, name, res.group)
        return obj

    def _existing_event(
        self,
        res: Resource,
        ns: str,
        name: str,
        read: Callable[[str, str, str], dict[str, Any] | None],
    ) -> dict[str, Any]:
        """The core Event behind a view's ``name``; 404 in the view's own terms."""
        obj = read(CORE_EVENTS_KEY, ns, name)
        if obj is None:
            raise errors.not_found(res.plural, name, res.group)
        return obj

    def _check_namespace(self, res: Resource, ns: str) -> None:
        if not res.namespaced:
            return
        namespace = self.store.latest(_NAMESPACES, "", ns)
        if namespace is None:
            raise errors.not_found("namespaces", ns)
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            raise errors.StatusError(
                403,
                "Forbidden",
                f'{res.plural} "{ns}" is forbidden: unable to create new content in namespace '
                f"{ns} because it is being terminated",
            )

    async def _commit(self, rv: int) -> None:
        await self.store.wait_committed(rv)

    def _body_checks(self, res: Resource, ns: str, obj: Any, name: str | None) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise errors.bad_request(f"the body must be a JSON object, got {type(obj).__name__}")
        kind, version = obj.get("kind"), obj.get("apiVersion")
        if kind is not None and kind != res.kind:
            raise errors.bad_request(
                f"the kind of the object ({kind!r}) does not match the resource ({res.kind})"
            )
        if version is not None and version != res.api_version:
            raise errors.bad_request(
                f"the apiVersion of the object ({version!r}) does not match the resource "
                f"({res.api_version})"
            )
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.invalid(res.kind, "", [("metadata", "Invalid value: must be an object")])
        for field in _OMITTED_WHEN_EMPTY:
            if field in meta and meta[field] in ({}, []):
                del meta[field]  # Go's omitempty: an emptied map or list is not written
        causes = shape_causes(res, obj)
        if causes:
            raise errors.invalid(res.kind, str(meta.get("name") or ""), causes, res.group)
        if res.namespaced:
            given = meta.get("namespace")
            if given and given != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the "
                f"URL ({name})"
            )
        rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        return {"apiVersion": res.api_version, "kind": res.kind, **rest}

    def _validate(self, res: Resource, obj: dict[str, Any]) -> None:
        try:
            # A patch can nest a value deeper than storage can encode; refuse it here.
            orjson.dumps(obj)
        except orjson.JSONEncodeError as exc:
            name = str(_meta(obj).get("name") or "")
            raise errors.invalid(res.kind, name, [("", str(exc))]) from None
        causes = validate_object(res, obj)
        if causes:
            raise errors.invalid(res.kind, str(_meta(obj).get("name") or ""), causes, res.group)

    # -- create --------------------------------------------------------------------

    async def create(
        self, res: Resource, ns: str, body: Any, *, dry_run: bool = False
    ) -> dict[str, Any]:
        obj = self._body_checks(res, ns, body, None)
        if res.key == EVENTS_VIEW_KEY:
            return from_core(await self.create(_CORE_EVENTS, ns, to_core(obj), dry_run=dry_run))
        meta = _meta(obj)
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if prefix:
                suffix = "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
                meta["name"] = f"{prefix[:58]}{suffix}"
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(field, None)
        meta["uid"] = _uid()
        meta["creationTimestamp"] = _now()
        if res.generation:
            meta["generation"] = 1
        if "status" in res.subresources and res.key != "core/nodes":
            obj["status"] = {}
        name = str(meta.get("name") or "")
        if name:
            apply_defaults(res.key, obj)
            self._admit(res, obj)
        self._validate(res, obj)
        self._check_namespace(res, ns)
        if self.store.latest(res.key, ns, name) is not None:
            raise errors.already_exists(res.plural, name, res.group)
        if dry_run:
            return obj
        op = self.store.put(res.key, ns, name, obj, None)
        await self._commit(op.rv)
        return op.obj

    # -- read ----------------------------------------------------------------------

    def get(self, res: Resource, ns: str, name: str) -> dict[str, Any]:
        if res.key == EVENTS_VIEW_KEY:
            return from_core(self._existing_event(res, ns, name, self.store.get))
        obj = self.store.get(res.key, ns, name)
        if obj is None:
            raise errors.not_found(res.plural, name, res.group)
        return obj

    def list_objects(self, res: Resource, ns: str | None, opts: ListOptions) -> dict[str, Any]:
        if res.key == EVENTS_VIEW_KEY:
            out = self.list_objects(_CORE_EVENTS, ns, opts)
            out["items"] = [from_core(obj) for obj in out["items"]]
            out["kind"], out["apiVersion"] = res.list_kind, res.api_version
            return out
        start: tuple[str, str] | None = None
        if opts.continue_token:
            start = _decode_continue(opts.continue_token)
        items: list[dict[str, Any]] = []
        more: tuple[str, str] | None = None
        remaining = 0
        for obj in self.store.items(res.key, ns):
            meta = _meta(obj)
            key = (str(meta.get("namespace") or ""), str(meta["name"]))
            if start is not None and key <= start:
                continue
            if opts.matches is not None and not opts.matches(obj):
                continue
            if opts.limit and len(items) >= opts.limit:
                if more is None:
                    more = (str(_meta(items[-1]).get("namespace") or ""), _meta(items[-1])["name"])
                remaining += 1
                continue
            items.append(obj)
        list_meta: dict[str, Any] = {"resourceVersion": str(self.store.committed_rv)}
        if more is not None:
            list_meta["continue"] = _encode_continue(more, self.store.committed_rv)
            if opts.matches is None:
                list_meta["remainingItemCount"] = remaining
        return {
            "kind": res.list_kind,
            "apiVersion": res.api_version,
            "metadata": list_meta,
            "items": items,
        }

    def watch(self, res: Resource, ns: str | None, opts: ListOptions) -> AsyncIterator[bytes]:
        """The JSON-lines event stream of a watch; a too-old version yields one ERROR event."""
        if res.key == EVENTS_VIEW_KEY:
            watcher = Watcher(CORE_EVENTS_KEY, ns, opts.matches, from_core)
        else:
            watcher = Watcher(res.key, ns, opts.matches)
        since = int(opts.resource_version) if opts.resource_version not in ("", "0") else None
        if opts.send_initial_events:
            since = None
        try:
            backlog = self.store.watch(watcher, since)
        except StatusError as exc:
            return _single(encode_event("ERROR", exc.body()))
        if opts.send_initial_events:
            end = self._bookmark(res)
            end["metadata"]["annotations"] = {"k8s.io/initial-events-end": "true"}
            backlog.append(encode_event("BOOKMARK", end))
        return self._stream(res, watcher, backlog, opts)

    async def _stream(
        self, res: Resource, watcher: Watcher, backlog: list[bytes], opts: ListOptions
    ) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + opts.timeout if opts.timeout else math.inf
        try:
            if backlog:
                yield b"".join(backlog)
            while True:
                wait = deadline - loop.time()
                if opts.bookmarks:
                    wait = min(wait, self.bookmark_interval)
                if wait <= 0:
                    return
                try:
                    if not watcher.queue.empty():
                        item = watcher.queue.get_nowait()
                    elif math.isinf(wait):
                        item = await watcher.queue.get()
                    else:
                        # asyncio.timeout, not wait_for: no new task per wake-up.
                        async with asyncio.timeout(wait):
                            item = await watcher.queue.get()
                except TimeoutError:
                    if loop.time() >= deadline:
                        return
                    yield encode_event("BOOKMARK", self._bookmark(res))
                    continue
                chunks: list[bytes] = []
                while item is not None:
                    chunks.append(item)
                    if watcher.queue.empty() or len(chunks) >= 512:
                        break
                    item = watcher.queue.get_nowait()
                if chunks:
                    yield b"".join(chunks)
                if item is None:
                    return
        finally:
            self.store.unwatch(watcher)

    def _bookmark(self, res: Resource) -> dict[str, Any]:
        return {
            "kind": res.kind,
            "apiVersion": res.api_version,
            "metadata": {"resourceVersion": str(self.store.committed_rv)},
        }

    # -- update / patch ------------------------------------------------------------

    async def update(
        self,
        res: Resource,
        ns: str,
        name: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        if subresource == "scale":
            return await self._update_scale(res, ns, name, body, dry_run=dry_run)
        if res.key == EVENTS_VIEW_KEY:
            self._existing_event(res, ns, name, self.store.latest)
            obj = to_core(self._body_checks(res, ns, body, name))
            return from_core(await self.update(_CORE_EVENTS, ns, name, obj, dry_run=dry_run))
        prev = self._existing(res, ns, name)
        if subresource == "status":
            if not isinstance(body, dict):
                raise errors.bad_request("the body must be a JSON object")
            new = _copy(prev)
            given_meta = _mapping(body.get("metadata"))
            if given_meta.get("resourceVersion"):
                _meta(new)["resourceVersion"] = given_meta["resourceVersion"]
            new["status"] = body.get("status", {})
            body = new
        obj = self._body_checks(res, ns, body, name)
        return await self._replace(res, ns, name, obj, prev, subresource, dry_run)

    async def _replace(
        self,
        res: Resource,
        ns: str,
        name: str,
        obj: dict[str, Any],
        prev: dict[str, Any],
        subresource: str,
        dry_run: bool,
    ) -> dict[str, Any]:
        meta, prev_meta = _meta(obj), _meta(prev)
        given_rv = meta.get("resourceVersion")
        if given_rv and given_rv != prev_meta.get("resourceVersion"):
            raise errors.conflict(
                res.plural,
                name,
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
                res.group,
            )
        for field in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            if field in prev_meta:
                meta[field] = prev_meta[field]
            else:
                meta.pop(field, None)
        meta["resourceVersion"] = prev_meta.get("resourceVersion")
        if subresource != "status":
            if "status" in res.subresources:
                if "status" in prev:
                    obj["status"] = prev["status"]
                else:
                    obj.pop("status", None)
            apply_defaults(res.key, obj)
            causes = []
            if res.key == _PODS:
                causes = validate_pod_update(obj, prev)
            elif res.key == PRIORITY_CLASSES:
                causes = priority_class_update_causes(obj, prev)
                admit_priority_class(obj, self.store.unordered(PRIORITY_CLASSES))
            elif res.key in _DATA_KINDS:
                causes = config_data_update_causes(res.key, obj, prev)
            if causes:
                raise errors.invalid(res.kind, name, causes, res.group)
        else:
            obj["spec"] = prev.get("spec")
            if obj["spec"] is None:
                del obj["spec"]
        if res.generation:
            generation = int(prev_meta.get("generation") or 1)
            meta["generation"] = generation + (obj.get("spec") != prev.get("spec"))
        self._validate(res, obj)
        if obj == prev:
            return prev
        if dry_run:
            return obj
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            grace = meta.get("deletionGracePeriodSeconds") or 0
            if grace == 0 or res.key != _PODS:
                return await self._remove(res, ns, name, obj)
        op = self.store.put(res.key, ns, name, obj, prev)
        await self._commit(op.rv)
        return op.obj

    async def patch(
        self,
        res: Resource,
        ns: str,
        name: str,
        patch_type: str,
        patch: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> dict[str, Any]:
        if subresource == "scale":
            scale = self._scale(res, self._existing(res, ns, name))
            return await self._update_scale(
                res, ns, name, _apply(patch_type, scale, patch), dry_run=dry_run
            )
        if res.key == EVENTS_VIEW_KEY:
            # Patched in the view's shape, the shape the patch was written against.
            patched = _apply(patch_type, self.get(res, ns, name), patch)
            return await self.update(res, ns, name, patched, dry_run=dry_run)
        prev = self._existing(res, ns, name)
        result = _apply(patch_type, prev, patch, stored=True)
        if subresource == "status":
            if not isinstance(result, dict):
                raise errors.bad_request("the patched object must be a JSON object")
            new = _copy(prev)
            new["status"] = result.get("status", {})
            if isinstance(result.get("metadata"), dict):
                _meta(new)["resourceVersion"] = result["metadata"].get("resourceVersion")
            result = new
        obj = self._body_checks(res, ns, result, name)
        return await self._replace(res, ns, name, obj, prev, subresource, dry_run)

    # -- scale ---------------------------------------------------------------------

    def _scale(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        meta = _meta(obj)
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        selector = spec.get("selector") or {}
        terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
        for expr in selector.get("matchExpressions") or []:
            values = ",".join(expr.get("values") or [])
            op = expr.get("operator")
            if op in ("In", "NotIn"):
                terms.append(f"{expr['key']} {op.lower()} ({values})")
            elif op == "Exists":
                terms.append(expr["key"])
            else:
                terms.append(f"!{expr['key']}")
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": status.get("replicas", 0), "selector": ",".join(terms)},
        }

    def get_scale(self, res: Resource, ns: str, name: str) -> dict[str, Any]:
        return self._scale(res, self.get(res, ns, name))

    async def _update_scale(
        self, res: Resource, ns: str, name: str, body: Any, *, dry_run: bool
    ) -> dict[str, Any]:
        prev = self._existing(res, ns, name)
        if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
            raise errors.bad_request("a Scale needs a spec object")
        replicas = body["spec"].get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise errors.invalid(
                "Scale", name, [("spec.replicas", f"Invalid value: {replicas!r}: must be >= 0")]
            )
        new = _copy(prev)
        new["spec"]["replicas"] = replicas
        meta = _mapping(body.get("metadata"))
        if meta.get("resourceVersion"):
            _meta(new)["resourceVersion"] = meta["resourceVersion"]
        obj = await self._replace(res, ns, name, new, prev, "", dry_run)
        return self._scale(res, obj)

    # -- delete --------------------------------------------------------------------

    async def delete(
        self,
        res: Resource,
        ns: str,
        name: str,
        options: Mapping[str, Any],
        *,
        dry_run: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Delete or start a graceful deletion; the object (or Status) and whether it is gone."""
        if res.key == EVENTS_VIEW_KEY:
            self._existing_event(res, ns, name, self.store.latest)
            last, gone = await self.delete(_CORE_EVENTS, ns, name, options, dry_run=dry_run)
            return from_core(last), gone
        prev = self._existing(res, ns, name)
        meta = _meta(prev)
        pre = options.get("preconditions") or {}
        if not isinstance(pre, dict):
            raise errors.bad_request("preconditions must be an object")
        for field in ("uid", "resourceVersion"):
            if pre.get(field) is not None and pre[field] != meta.get(field):
                raise errors.conflict(
                    res.plural,
                    name,
                    f"Precondition failed: {field} in precondition: {pre[field]}, {field} in "
                    f"object meta: {meta.get(field)}",
                    res.group,
                )
        grace = options.get("gracePeriodSeconds")
        if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
            raise errors.bad_request("gracePeriodSeconds must be an integer")
        if res.key == _PODS:
            spec, status = prev.get("spec") or {}, prev.get("status") or {}
            if grace is None:
                grace = spec.get("terminationGracePeriodSeconds", 30)
            if not spec.get("nodeName") or status.get("phase") in _TERMINAL:
                grace = 0
        grace = max(int(grace or 0), 0)
        policy = options.get("propagationPolicy") or "Background"
        if policy not in ("Background", "Foreground", "Orphan"):
            raise errors.bad_request(f"unsupported propagationPolicy {policy!r}")
        if dry_run:
            return prev, False
        current_grace = meta.get("deletionGracePeriodSeconds")
        if meta.get("finalizers") or grace > 0:
            if (
                meta.get("deletionTimestamp")
                and current_grace is not None
                and current_grace <= grace
            ):
                return prev, False
            new = _copy(prev)
            when = datetime.now(UTC) + timedelta(seconds=grace)
            _meta(new)["deletionTimestamp"] = format_time(when)
            _meta(new)["deletionGracePeriodSeconds"] = grace
            if res.generation:
                _meta(new)["generation"] = int(meta.get("generation") or 1) + 1
            op = self.store.put(res.key, ns, name, new, prev)
            await self._commit(op.rv)
            return op.obj, False
        last = await self._remove(res, ns, name, _copy(prev), orphan=policy == "Orphan")
        return last, True

    async def _remove(
        self, res: Resource, ns: str, name: str, last: dict[str, Any], *, orphan: bool = False
    ) -> dict[str, Any]:
        op = self.store.delete(res.key, ns, name, last)
        rv = op.rv
        if res.key in _OWNER_KINDS:
            rv = max(rv, self._collect_dependents(last, orphan))
        if res.key == _NAMESPACES:
            rv = max(rv, self._empty_namespace(name))
        await self._commit(rv)
        return op.obj

    def _collect_dependents(self, owner: dict[str, Any], orphan: bool) -> int:
        """Delete (or, orphaning, release) what ``owner`` owns; the last resourceVersion used."""
        uid = _owner_ref(owner)
        ns = str(_meta(owner).get("namespace") or "")
        rv = 0
        for key in _DEPENDENT_KEYS:
            res = next(r for r in RESOURCES if r.key == key)
            for obj in list(self.store.items(key, ns)):
                obj = self.store.latest(key, ns, _meta(obj)["name"]) or obj
                refs = _meta(obj).get("ownerReferences") or []
                if not any(r.get("uid") == uid for r in refs):
                    continue
                rest = [r for r in refs if r.get("uid") != uid]
                name = _meta(obj)["name"]
                if orphan or rest:
                    new = _copy(obj)
                    _meta(new)["ownerReferences"] = rest
                    rv = self.store.put(key, ns, name, new, obj).rv
                else:
                    rv = max(rv, self._remove_now(res, ns, name, obj))
        return rv

    def _remove_now(self, res: Resource, ns: str, name: str, obj: dict[str, Any]) -> int:
        rv = self.store.delete(res.key, ns, name, _copy(obj)).rv
        if res.key in _OWNER_KINDS:
            rv = max(rv, self._collect_dependents(obj, False))
        return rv

    def _empty_namespace(self, ns: str) -> int:
        rv = 0
        for res in RESOURCES:
            if res.namespaced and res.stored:
                for obj in list(self.store.items(res.key, ns)):
                    current = self.store.latest(res.key, ns, _meta(obj)["name"])
                    if current is not None:
                        rv = max(
                            rv,
                            self.store.delete(res.key, ns, _meta(obj)["name"], _copy(current)).rv,
                        )
        return rv

    async def delete_namespace(self, ns: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """Terminating, then emptied, then gone: the namespace controller's job, done inline."""
        res = _resource(_NAMESPACES)
        prev = self._existing(res, "", ns)
        new = _copy(prev)
        new.setdefault("status", {})["phase"] = "Terminating"
        _meta(new)["deletionTimestamp"] = _now()
        _meta(new)["deletionGracePeriodSeconds"] = 0
        self.store.put(res.key, "", ns, new, prev)
        return await self._remove(res, "", ns, _copy(new))

    async def delete_collection(
        self, res: Resource, ns: str | None, opts: ListOptions, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        listed = self.list_objects(res, ns, opts)
        gone = []
        for obj in listed["items"]:
            meta = _meta(obj)
            try:
                last, _ = await self.delete(
                    res, str(meta.get("namespace") or ""), meta["name"], options
                )
            except StatusError as exc:
                if exc.code != 404:
                    raise
                continue
            gone.append(last)
        listed["items"] = gone
        return listed

    def deleted_status(self, res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        if res.key in _RETURNS_OBJECT:
            return obj
        meta = _meta(obj)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": meta["name"],
                "group": res.group,
                "kind": res.plural,
                "uid": meta.get("uid"),
            },
        }

    # -- pods/binding, pods/eviction -----------------------------------------------

    async def bind(self, ns: str, name: str | None, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("a Binding must be a JSON object")
        meta = _mapping(body.get("metadata"))
        pod_name = name or meta.get("name")
        target = body.get("target")
        if not isinstance(pod_name, str) or not pod_name:
            raise errors.invalid("Binding", "", [("metadata.name", "Required value")])
        if name is not None and meta.get("name") not in (None, name):
            raise errors.bad_request(
                f"the name of the binding ({meta.get('name')}) does not match the pod ({name})"
            )
        if (
            not isinstance(target, dict)
            or not isinstance(target.get("name"), str)
            or not target["name"]
        ):
            raise errors.invalid("Binding", pod_name, [("target.name", "Required value")])
        if target.get("kind") not in (None, "", "Node"):
            raise errors.invalid(
                "Binding", pod_name, [("target.kind", f"Unsupported value: {target.get('kind')!r}")]
            )
        res = _resource(_PODS)
        prev = self._existing(res, ns, pod_name)
        pod_meta = _meta(prev)
        if pod_meta.get("deletionTimestamp"):
            raise errors.conflict(
                "pods", pod_name, f"pod {pod_name} is being deleted, cannot be assigned to a host"
            )
        bound = (prev.get("spec") or {}).get("nodeName")
        if bound:
            raise errors.conflict(
                "pods", pod_name, f'pod {pod_name} is already assigned to node "{bound}"'
            )
        uid = (meta.get("uid") if isinstance(meta.get("uid"), str) else None) or None
        if uid and uid != pod_meta.get("uid"):
            raise errors.conflict("pods", pod_name, "Precondition failed: UID in precondition")
        new = _copy(prev)
        new["spec"]["nodeName"] = target["name"]
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
        ):
            _meta(new).setdefault("annotations", {}).update(annotations)
        status = new.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": _now(),
            }
        )
        status["conditions"] = conditions
        op = self.store.put(res.key, ns, pod_name, new, prev)
        await self._commit(op.rv)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    async def evict(self, ns: str, name: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise errors.bad_request("an Eviction must be a JSON object")
        options = body.get("deleteOptions") or {}
        if not isinstance(options, dict):
            raise errors.bad_request("deleteOptions must be an object")
        res = _resource(_PODS)
        pod = self._existing(res, ns, name)
        status = pod.get("status") or {}
        if not _meta(pod).get("deletionTimestamp") and status.get("phase") not in _TERMINAL:
            self._check_budgets(ns, pod)
        await self.delete(res, ns, name, options)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "code": 201,
        }

    def _check_budgets(self, ns: str, pod: dict[str, Any]) -> None:
        """Refuse (429) an eviction that would take a PDB below its desired healthy pods.

        Healthy counts are computed here from the pods themselves, as the
        disruption controller would (pkg/controller/disruption), so budgets
        hold even when no such controller runs.
        """
        labels = _meta(pod).get("labels") or {}
        budgets = [
            b
            for b in self.store.items("policy/poddisruptionbudgets", ns)
            if match_label_selector_object((b.get("spec") or {}).get("selector"), labels)
        ]
        if not budgets:
            return
        if len(budgets) > 1:
            raise StatusError(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction "
                "subresource does not support.",
            )
        budget = budgets[0]
        spec = budget.get("spec") or {}
        pods = [
            p
            for p in self.store.items(_PODS, ns)
            if match_label_selector_object(spec.get("selector"), _meta(p).get("labels") or {})
        ]
        healthy = [p for p in pods if _healthy(p)]
        expected = len(pods)
        if spec.get("minAvailable") is not None:
            desired = _scaled(spec["minAvailable"], expected)
        elif spec.get("maxUnavailable") is not None:
            desired = max(expected - _scaled(spec["maxUnavailable"], expected), 0)
        else:
            desired = 0
        allowed = len(healthy) - desired
        policy = spec.get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
        if not _healthy(pod) and (policy == "AlwaysAllow" or len(healthy) >= desired):
            return
        if allowed <= 0:
            raise StatusError(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                {
                    "causes": [
                        {
                            "reason": "DisruptionBudget",
                            "message": f"The disruption budget {_meta(budget)['name']} needs "
                            f"{desired} healthy pods and has {len(healthy)} currently",
                        }
                    ]
                },
            )

    def seed(self) -> None:
        """Create the namespaces and priority classes every cluster has, when missing."""
        res = _resource(_NAMESPACES)
        seeds: list[tuple[str, dict[str, Any]]] = [
            (res.key, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            for ns in DEFAULT_NAMESPACES
        ]
        seeds += [(PRIORITY_CLASSES, pc) for pc in system_priority_classes()]
        for key, obj in seeds:
            meta = obj["metadata"]
            if self.store.latest(key, "", meta["name"]) is None:
                meta |= {"uid": _uid(), "creationTimestamp": _now()}
                apply_defaults(key, obj)
                self.store.put(key, "", meta["name"], obj, None)

    def _admit(self, res: Resource, obj: dict[str, Any]) -> None:
        """Admission on create: Priority for pods, one global default among PriorityClasses."""
        if res.key == _PODS:
            admit_pod(
                obj,
                lambda name: self.store.latest(PRIORITY_CLASSES, "", name),
                lambda: self.store.unordered(PRIORITY_CLASSES),
            )
        elif res.key == PRIORITY_CLASSES:
            admit_priority_class(obj, self.store.unordered(PRIORITY_CLASSES))


def _healthy(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if _meta(pod).get("deletionTimestamp") or status.get("phase") != "Running":
        return False
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def _scaled(value: Any, total: int) -> int:
    """IntOrString against ``total``; percentages round up (GetScaledValueFromIntOrPercent)."""
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return math.ceil(int(value[:-1]) * total / 100)
    if isinstance(value, int):
        return value
    raise errors.invalid("PodDisruptionBudget", "", [("spec", f"Invalid value: {value!r}")])


def _resource(key: str) -> Resource:
    return next(r for r in RESOURCES if r.key == key)


_CORE_EVENTS: Final = _resource(CORE_EVENTS_KEY)


def _apply(patch_type: str, target: dict[str, Any], patch: Any, *, stored: bool = False) -> Any:
    """The patched object, its null fields dropped (a JSON patch can write a null).

    A merge or strategic patch holding no null writes none, so the result of
    one on a ``stored`` target is not walked (that cost more than the rest of
    a status PATCH); the target's own nulls stay, as the ``lastProbeTime:
    null`` binding writes, as upstream does.
    """
    try:
        patched = apply_patch(patch_type, target, patch)
        if stored and patch_type != "json" and not holds_null(patch):
            return patched
        return drop_null_fields(patched)
    except PatchError as exc:
        if exc.code == 422:
            raise StatusError(422, "Invalid", str(exc)) from None
        raise errors.bad_request(str(exc)) from None
    except RecursionError:
        raise errors.bad_request("patch nested too deeply") from None


def _encode_continue(key: tuple[str, str], rv: int) -> str:
    raw = orjson.dumps({"v": "ksched/v1", "rv": rv, "start": list(key)})
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        start = data["start"]
        if data.get("v") != "ksched/v1" or not (
            isinstance(start, list) and len(start) == 2 and all(isinstance(s, str) for s in start)
        ):
            raise ValueError(start)
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise errors.bad_request(f"continue key is not valid: {token[:64]!r}") from None
    return start[0], start[1]


async def _single(line: bytes) -> AsyncIterator[bytes]:
    yield line
