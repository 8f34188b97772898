"""``ksched apiserver``: a Kubernetes-compatible API server for a focused set of resources.

Core/v1 namespaces, pods (binding, status, eviction), nodes, events,
bindings, configmaps and secrets; leases; apps/v1 deployments and replicasets (with scale); batch/v1
jobs; policy/v1 PodDisruptionBudgets; discovery and OpenAPI v3. Durable
SQLite storage (WAL, group commit) or in-memory, a watch cache, bearer
tokens, TLS and a small authorisation policy. Submodules are implementation
detail: import from here.
"""

from ksched.apiserver.app import ApiServerApp, AppConfig
from ksched.apiserver.auth import AuthError, Authorizer, TokenAuthenticator, User
from ksched.apiserver.process import ApiServerProcess
from ksched.apiserver.resources import RESOURCES, Resource
from ksched.apiserver.server import ServerError, ServerOptions, build_app, serve
from ksched.apiserver.store import Store

__all__ = [
    "RESOURCES",
    "ApiServerApp",
    "ApiServerProcess",
    "AppConfig",
    "AuthError",
    "Authorizer",
    "Resource",
    "ServerError",
    "ServerOptions",
    "Store",
    "TokenAuthenticator",
    "User",
    "build_app",
    "serve",
]
