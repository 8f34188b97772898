"""Assembling and running the server: storage, security, the ASGI app under uvicorn."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from ksched.apiserver.app import ApiServerApp, AppConfig, is_loopback
from ksched.apiserver.auth import Authorizer, TokenAuthenticator
from ksched.apiserver.kubeconfig import write_kubeconfig
from ksched.apiserver.storage import Backend, EtcdBackend, EtcdError, SQLiteBackend
from ksched.apiserver.store import Store
from ksched.apiserver.tls import ensure_self_signed

__all__ = ["ServerError", "ServerOptions", "build_app", "serve"]


class ServerError(ValueError):
    """Options that cannot make a safe server (the message says which and why)."""


@dataclass(slots=True)
class ServerOptions:
    bind_address: str = "127.0.0.1"
    port: int = 6443
    storage: str = "sqlite"  # "sqlite", "memory" or "etcd"
    etcd_servers: str = ""
    data_dir: Path = field(default_factory=lambda: Path("ksched-apiserver-data"))
    token_auth_file: Path | None = None
    authorization_policy_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    self_signed_cert_dir: Path | None = None
    anonymous_dev: bool = False
    write_kubeconfig: Path | None = None
    watch_cache_size: int = 100_000
    bookmark_interval: float = 60.0

    def check(self) -> None:
        if self.storage not in ("sqlite", "memory", "etcd"):
            raise ServerError(f"--storage must be sqlite, memory or etcd, got {self.storage!r}")
        if (self.storage == "etcd") != bool(self.etcd_servers):
            raise ServerError("--etcd-servers is needed with, and only with, --storage etcd")
        if self.anonymous_dev and not is_loopback(self.bind_address):
            raise ServerError(
                f"--anonymous-dev is only allowed on a loopback address, not {self.bind_address!r}"
            )
        if self.token_auth_file is None and not self.anonymous_dev:
            raise ServerError(
                "give --token-auth-file (or --anonymous-dev on loopback for development)"
            )
        if (self.tls_cert_file is None) != (self.tls_private_key_file is None):
            raise ServerError("--tls-cert-file and --tls-private-key-file go together")
        if self.tls_cert_file is not None and self.self_signed_cert_dir is not None:
            raise ServerError(
                "give either --tls-cert-file/--tls-private-key-file or --self-signed-cert-dir"
            )
        if self.watch_cache_size < 1:
            raise ServerError("--watch-cache-size must be at least 1")
        if self.bookmark_interval <= 0:
            raise ServerError("--bookmark-interval must be positive")


def build_app(options: ServerOptions) -> ApiServerApp:
    """The ASGI app for ``options`` (storage opened, security files read)."""
    options.check()
    authenticator = (
        TokenAuthenticator.from_file(options.token_auth_file) if options.token_auth_file else None
    )
    authorizer = (
        Authorizer.from_file(options.authorization_policy_file)
        if options.authorization_policy_file
        else None
    )
    backend: Backend | None = None
    if options.storage == "sqlite":
        backend = SQLiteBackend(options.data_dir / "state.db")
    elif options.storage == "etcd":
        try:
            backend = EtcdBackend(options.etcd_servers.split(",")[0])
        except EtcdError as exc:
            raise ServerError(str(exc)) from None
    store = Store(backend, window=options.watch_cache_size)
    config = AppConfig(authenticator, authorizer, anonymous=options.anonymous_dev)
    return ApiServerApp(store, config, bookmark_interval=options.bookmark_interval)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: responses go out in two writes (head, body),
    # and Nagle plus the client's delayed ACK would add 40 ms to each.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def serve(options: ServerOptions) -> None:
    """Run until SIGINT/SIGTERM; prints the URL and writes the kubeconfig once listening."""
    app = build_app(options)
    cert, key = options.tls_cert_file, options.tls_private_key_file
    if options.self_signed_cert_dir is not None:
        cert, key = ensure_self_signed(options.self_signed_cert_dir, [options.bind_address])
    sock = _listen(options.bind_address, options.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"{'https' if cert else 'http'}://{shown}:{port}"
    if options.write_kubeconfig is not None:
        token, user = None, "anonymous"
        if app.config.authenticator is not None:
            token, found = app.config.authenticator.first_token()
            user = found.name
        write_kubeconfig(options.write_kubeconfig, url, user=user, token=token, ca_file=cert)
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",
        access_log=False,
        # No X-Forwarded-* rewriting (kube-apiserver trusts no proxy headers by default) and
        # no Server header (Go's net/http sends none); both cost CPU on every request.
        proxy_headers=False,
        server_header=False,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        timeout_keep_alive=120,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    print(f"ksched apiserver listening on {url}", flush=True)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(server.serve(sockets=[sock]))
