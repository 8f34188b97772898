"""The ASGI application: authentication, routing by the resource table, encoding, errors.

Built on Starlette's request/response primitives rather than its router or
FastAPI: the Kubernetes REST surface is data-driven (one resource table,
``/namespaces/{ns}/`` optional per resource, subresources), errors must be
``Status`` objects, and FastAPI's own OpenAPI and per-route body models
would get in the way of both.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
import yaml
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ksched.apiserver import discovery, errors
from ksched.apiserver.auth import ANONYMOUS_ADMIN, Authorizer, TokenAuthenticator, User
from ksched.apiserver.errors import StatusError
from ksched.apiserver.metrics import ApiServerMetrics, RequestInfo
from ksched.apiserver.null_fields import drop_null_fields
from ksched.apiserver.patch import PATCH_TYPES
from ksched.apiserver.protobuf import PROTOBUF, ProtobufError, decode_object
from ksched.apiserver.registry import ListOptions, Registry
from ksched.apiserver.resources import Resource, find
from ksched.apiserver.store import Store
from ksched.apiserver.tables import to_table, wants_table

__all__ = ["ApiServerApp", "AppConfig"]

log = logging.getLogger("ksched.apiserver")

MAX_BODY: Final = 3 * 1024 * 1024  # upstream's request body limit
_JSON: Final = "application/json"
_YAML_TYPES: Final = ("application/yaml", "application/x-yaml", "text/yaml")
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_METHOD_VERBS: Final = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_TRUE: Final = ("true", "1", "True")
_REQUEST_INFO: Final = "ksched.request_info"  # the scope key _resource files a request under
_METRICS_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class AppConfig:
    """How requests are authenticated; ``anonymous`` admits unauthenticated requests as admin."""

    authenticator: TokenAuthenticator | None = None
    authorizer: Authorizer | None = None
    anonymous: bool = False


@dataclass(slots=True)
class _Target:
    res: Resource
    namespace: str | None
    name: str | None
    subresource: str


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", _JSON).split(";")[0].strip().lower()


def _decode(raw: bytes, content_type: str, *, patch: bool = False) -> Any:
    """The body as JSON data; an object's null fields dropped, a patch's kept (they delete)."""
    if not raw.strip():
        raise errors.bad_request("the request body is empty")
    try:
        if content_type in _YAML_TYPES:
            body = yaml.load(raw.decode(), Loader=_YAML_LOADER)
        else:
            body = orjson.loads(raw)
    except (orjson.JSONDecodeError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        what = "YAML" if content_type in _YAML_TYPES else "JSON"
        raise errors.bad_request(f"the request body is not valid {what}: {exc}") from None
    try:
        # orjson refuses to write what is nested too deep to store: refuse it now.
        encoded = orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise errors.bad_request(f"the request body cannot be stored as JSON: {exc}") from None
    if content_type in _YAML_TYPES:
        return drop_null_fields(orjson.loads(encoded))
    # A null field reads as absent (Go decodes it to the zero value); no b"null", no null.
    return drop_null_fields(body) if b"null" in raw and not patch else body


def _decode_protobuf(raw: bytes) -> dict[str, Any]:
    try:
        return decode_object(raw)
    except ProtobufError as exc:
        raise errors.bad_request(f"the request body is not valid protobuf: {exc}") from None


_NO_QUERY: Final = QueryParams()


def _query(request: Request) -> QueryParams:
    """The query parameters; most writes have none, and parsing nothing still cost 3% of one."""
    return request.query_params if request.scope.get("query_string") else _NO_QUERY


def _wants_yaml(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return any(t in accept for t in _YAML_TYPES) and _JSON not in accept


def _respond(request: Request, code: int, body: Any) -> Response:
    if _wants_yaml(request):
        text = yaml.dump(body, Dumper=_YAML_DUMPER, sort_keys=False)
        return Response(text, code, media_type="application/yaml")
    return Response(orjson.dumps(body), code, media_type=_JSON)


def _raw(code: int, body: bytes) -> Response:
    return Response(body, code, media_type=_JSON)


class ApiServerApp:
    """An ASGI app serving a ``Registry``; handles ``lifespan`` to seed and close the store."""

    def __init__(self, store: Store, config: AppConfig, bookmark_interval: float = 60.0) -> None:
        self.store = store
        self.registry = Registry(store, bookmark_interval)
        self.config = config
        self.metrics = ApiServerMetrics(store)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        start = time.perf_counter()
        request = Request(scope, receive)
        try:
            response = await self._handle(request)
        except StatusError as exc:
            response = _respond(request, exc.code, exc.body())
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, scope["path"])
            body = errors.status_body(500, "InternalError", f"an internal error occurred: {exc}")
            response = _respond(request, 500, body)
        info: RequestInfo | None = scope.get(_REQUEST_INFO)
        if info is None:
            await response(scope, receive, send)
            return
        watching = info.verb == "WATCH" and response.status_code == 200
        if watching:
            self.metrics.watch_opened(info, 1)
        try:
            await response(scope, receive, send)
        finally:
            if watching:
                self.metrics.watch_opened(info, -1)
            self.metrics.observe(info, response.status_code, time.perf_counter() - start)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.registry.seed()
                    await self.store.wait_committed(self.store.rv)
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- authentication ----------------------------------------------------------

    def _user(self, request: Request) -> User:
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer " and self.config.authenticator is not None:
            user = self.config.authenticator.authenticate(header[7:].strip())
            if user is not None:
                return user
            raise errors.unauthorized()
        if self.config.anonymous and not header:
            return User(ANONYMOUS_ADMIN, "", ("system:unauthenticated", "system:masters"))
        raise errors.unauthorized()

    def _authorize(self, user: User, verb: str, target: _Target) -> None:
        authorizer = self.config.authorizer
        resource = target.res.plural + (f"/{target.subresource}" if target.subresource else "")
        if authorizer is None or authorizer.allows(user, verb, resource):
            return
        what = f'{target.res.plural} "{target.name}"' if target.name else target.res.plural
        where = f' in the namespace "{target.namespace}"' if target.namespace else ""
        scope = "" if target.namespace else " at the cluster scope"
        sub = f"/{target.subresource}" if target.subresource else ""
        raise errors.forbidden(
            f'{what} is forbidden: User "{user.name}" cannot {verb} resource '
            f'"{target.res.plural}{sub}" in API group "{target.res.group}"{where or scope}'
        )

    # -- dispatch ----------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        # The scope's path as is: ``request.url`` would build and parse a whole URL.
        path = request.scope["path"].rstrip("/") or "/"
        if path in ("/healthz", "/livez", "/readyz"):
            return Response("ok", 200, media_type="text/plain")
        user = self._user(request)
        parts = path.strip("/").split("/")
        head = parts[0]
        if head == "version" and len(parts) == 1:
            return _respond(request, 200, discovery.version_info())
        if head == "metrics" and len(parts) == 1:
            return Response(self.metrics.render(), 200, media_type=_METRICS_TYPE)
        if head == "openapi":
            return self._openapi(parts[1:])
        if head == "api":
            if len(parts) == 1:
                return _respond(request, 200, discovery.api_versions())
            return await self._group_version(request, user, "", parts[1], parts[2:])
        if head == "apis":
            if len(parts) == 1:
                return _respond(request, 200, discovery.api_group_list())
            if len(parts) == 2:
                group = discovery.api_group(parts[1])
                if group is None:
                    raise errors.not_found("groups", parts[1])
                return _respond(request, 200, group)
            return await self._group_version(request, user, parts[1], parts[2], parts[3:])
        raise StatusError(
            404, "NotFound", f"the server could not find the requested resource ({path})"
        )

    def _openapi(self, parts: list[str]) -> Response:
        if parts == ["v3"]:
            return _raw(200, discovery.openapi_v3_index())
        if len(parts) >= 3 and parts[0] == "v3":
            if parts[1] == "api" and len(parts) == 3:
                doc = discovery.openapi_v3_document("", parts[2])
            elif parts[1] == "apis" and len(parts) == 4:
                doc = discovery.openapi_v3_document(parts[2], parts[3])
            else:
                doc = None
            if doc is not None:
                return _raw(200, doc)
        raise StatusError(404, "NotFound", "the server could not find the requested resource")

    async def _group_version(
        self, request: Request, user: User, group: str, version: str, rest: list[str]
    ) -> Response:
        if not rest:
            doc = discovery.api_resource_list(group, version)
            if doc is None:
                raise StatusError(
                    404, "NotFound", "the server could not find the requested resource"
                )
            return _respond(request, 200, doc)
        target = self._target(group, version, rest)
        return await self._resource(request, user, target)

    def _target(self, group: str, version: str, rest: list[str]) -> _Target:
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            scoped = find(group, version, rest[2])
            if scoped is not None and scoped.namespaced:
                namespace, rest = rest[1], rest[2:]
        res = find(group, version, rest[0])
        if res is None or len(rest) > 3 or any(not p for p in rest):
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        if res.namespaced != (namespace is not None) and len(rest) > 1:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in res.subresources:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        return _Target(res, namespace, name, sub)

    async def _body(self, request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            raise StatusError(413, "RequestEntityTooLarge", "the request is too large")
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise StatusError(413, "RequestEntityTooLarge", "the request is too large")
        content_type = _content_type(request)
        if request.method == "PATCH":
            if content_type not in PATCH_TYPES:
                raise StatusError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: {', '.join(PATCH_TYPES)}",
                )
            return _decode(raw, _JSON, patch=True)
        if content_type == PROTOBUF:
            return _decode_protobuf(raw)
        if content_type not in (_JSON, *_YAML_TYPES):
            raise StatusError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format ({content_type}) - accepted "
                f"media types include: application/json, application/yaml, {PROTOBUF}",
            )
        return _decode(raw, content_type)

    async def _resource(self, request: Request, user: User, t: _Target) -> Response:
        method = request.method
        query = _query(request)
        dry_run = bool(query.getlist("dryRun"))
        request.scope[_REQUEST_INFO] = _request_info(method, t, query, dry_run)
        if dry_run and query.get("dryRun") != "All":
            raise errors.bad_request(f"unsupported dryRun value {query.get('dryRun')!r}")
        res, ns, name, sub = t.res, t.namespace, t.name, t.subresource
        if method == "GET":
            table = wants_table(request.headers.get("accept", "")) and sub in ("", "status")
            include = query.get("includeObject", "Metadata")
            if name is None:
                opts = ListOptions(query, res)
                self._authorize(user, "watch" if opts.watch else "list", t)
                if opts.watch:
                    stream = self.registry.watch(res, ns, opts)
                    if table:
                        stream = _table_events(stream, res.key, include)
                    return StreamingResponse(stream, 200, media_type=_JSON)
                listed = self.registry.list_objects(res, ns, opts)
                if table:
                    listed = to_table(res.key, listed["items"], listed["metadata"], include)
                return _respond(request, 200, listed)
            self._authorize(user, "get", t)
            if sub == "scale":
                return _respond(request, 200, self.registry.get_scale(res, ns or "", name))
            if sub in ("binding", "eviction"):
                raise errors.method_not_allowed(f"GET is not supported on {res.plural}/{sub}")
            obj = self.registry.get(res, ns or "", name)
            if table:
                rv = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
                return _respond(request, 200, to_table(res.key, [obj], rv, include))
            return _respond(request, 200, obj)
        verb = _METHOD_VERBS.get(method)
        if verb is None:
            raise errors.method_not_allowed(f"method {method} is not supported")
        if method == "DELETE" and name is None:
            verb = "deletecollection"
        if verb not in res.verbs and not sub:
            raise errors.method_not_allowed(f"{method} is not supported on {res.plural}")
        self._authorize(user, verb, t)
        if res.namespaced and ns is None:
            raise errors.method_not_allowed(f"{method} on {res.plural} needs a namespace")
        if method == "DELETE":
            return await self._delete(request, t, dry_run)
        body = await self._body(request)
        if method == "POST":
            if name is None:
                if res.key == "core/bindings":
                    return _respond(request, 201, await self.registry.bind(ns or "", None, body))
                return _respond(
                    request, 201, await self.registry.create(res, ns or "", body, dry_run=dry_run)
                )
            if sub == "binding":
                return _respond(request, 201, await self.registry.bind(ns or "", name, body))
            if sub == "eviction":
                return _respond(request, 201, await self.registry.evict(ns or "", name, body))
            raise errors.method_not_allowed(f"POST is not supported on {res.plural}/{name}")
        if name is None or sub in ("binding", "eviction"):
            raise errors.method_not_allowed(f"{method} needs an object name")
        if method == "PUT":
            obj = await self.registry.update(
                res, ns or "", name, body, subresource=sub, dry_run=dry_run
            )
            return _respond(request, 200, obj)
        patch_type = PATCH_TYPES[_content_type(request)]
        obj = await self.registry.patch(
            res, ns or "", name, patch_type, body, subresource=sub, dry_run=dry_run
        )
        return _respond(request, 200, obj)

    async def _delete(self, request: Request, t: _Target, dry_run: bool) -> Response:
        raw = await request.body()
        options: Mapping[str, Any] = {}
        if raw.strip():
            content_type = _content_type(request)
            if content_type == PROTOBUF:  # typed clients send DeleteOptions as protobuf
                decoded = _decode_protobuf(raw)
            else:
                decoded = _decode(raw, content_type if content_type in _YAML_TYPES else _JSON)
            if not isinstance(decoded, dict):
                raise errors.bad_request("DeleteOptions must be a JSON object")
            options = decoded
        options = dict(options)
        query = _query(request)
        if "gracePeriodSeconds" in query:
            raw_grace = query["gracePeriodSeconds"]
            try:
                options["gracePeriodSeconds"] = int(raw_grace)
            except ValueError:
                raise errors.bad_request(
                    f"gracePeriodSeconds: invalid value {raw_grace!r}"
                ) from None
        if "propagationPolicy" in query:
            options["propagationPolicy"] = query["propagationPolicy"]
        if options.get("dryRun"):
            dry_run = True
        res, ns, name = t.res, t.namespace or "", t.name
        if name is None:
            opts = ListOptions(query, res)
            return _respond(
                request, 200, await self.registry.delete_collection(res, t.namespace, opts, options)
            )
        if t.subresource:
            raise errors.method_not_allowed(
                f"DELETE is not supported on {res.plural}/{t.subresource}"
            )
        if res.key == "core/namespaces" and not dry_run:
            obj = await self.registry.delete_namespace(name, options)
            return _respond(request, 200, obj)
        obj, gone = await self.registry.delete(res, ns, name, options, dry_run=dry_run)
        if not gone:
            return _respond(
                request, 200 if dry_run else 202 if res.key != "core/pods" else 200, obj
            )
        return _respond(request, 200, self.registry.deleted_status(res, obj))


def _request_info(method: str, t: _Target, query: QueryParams, dry_run: bool) -> RequestInfo:
    """Upstream's metric labels: CleanVerb (a GET of a collection is LIST, or WATCH) and
    CleanScope (resource, namespace or cluster)."""
    verb = method
    if method == "GET" and t.name is None:
        verb = "WATCH" if query.get("watch", "") in _TRUE else "LIST"
    scope = "resource" if t.name is not None else "namespace" if t.namespace else "cluster"
    res = t.res
    return RequestInfo(verb, dry_run, res.group, res.version, res.plural, t.subresource, scope)


async def _table_events(
    stream: AsyncIterator[bytes], rkey: str, include: str
) -> AsyncIterator[bytes]:
    """A watch stream whose objects are one-row Tables, for ``kubectl get -w``."""
    async for chunk in stream:
        out: list[bytes] = []
        for line in chunk.splitlines():
            event = orjson.loads(line)
            if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                obj = event["object"]
                rv = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
                event["object"] = to_table(rkey, [obj], rv, include)
            out.append(orjson.dumps(event) + b"\n")
        yield b"".join(out)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only listens on the loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
