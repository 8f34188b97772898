"""``ksched apiserver``: serve the Kubernetes API (a focused subset) with durable storage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ksched.cli.daemon_gc import tune_gc
from ksched.cli.errors import UsageError

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "apiserver",
        help="serve a Kubernetes-compatible API (pods, nodes, deployments, ...)",
        description=__doc__,
    )
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6443, help="0 picks a free port")
    p.add_argument("--storage", choices=["sqlite", "memory", "etcd"], default="sqlite")
    p.add_argument(
        "--etcd-servers",
        default="",
        metavar="URL",
        help="--storage etcd: the etcd client URL (its v3 JSON gateway), e.g. http://127.0.0.1:2379",
    )
    p.add_argument("--data-dir", type=Path, default=Path("ksched-apiserver-data"))
    p.add_argument("--token-auth-file", type=Path, metavar="CSV", help="token,user,uid[,groups]")
    p.add_argument(
        "--authorization-policy-file",
        type=Path,
        metavar="YAML",
        help="rules of users/groups -> verbs -> resources (default: allow all authenticated)",
    )
    p.add_argument("--tls-cert-file", type=Path)
    p.add_argument("--tls-private-key-file", type=Path)
    p.add_argument(
        "--self-signed-cert-dir",
        type=Path,
        metavar="DIR",
        help="serve TLS with a self-signed certificate kept in DIR (made if missing)",
    )
    p.add_argument(
        "--anonymous-dev",
        action="store_true",
        help="development only: unauthenticated requests are admin (loopback addresses only)",
    )
    p.add_argument("--write-kubeconfig", type=Path, metavar="PATH")
    p.add_argument("--watch-cache-size", type=int, default=100_000, metavar="EVENTS")
    p.add_argument("--bookmark-interval", type=float, default=60.0, metavar="SECONDS")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ksched.apiserver import AuthError, ServerError, ServerOptions, serve

    tune_gc()

    options = ServerOptions(
        bind_address=args.bind_address,
        port=args.port,
        storage=args.storage,
        etcd_servers=args.etcd_servers,
        data_dir=args.data_dir,
        token_auth_file=args.token_auth_file,
        authorization_policy_file=args.authorization_policy_file,
        tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        self_signed_cert_dir=args.self_signed_cert_dir,
        anonymous_dev=args.anonymous_dev,
        write_kubeconfig=args.write_kubeconfig,
        watch_cache_size=args.watch_cache_size,
        bookmark_interval=args.bookmark_interval,
    )
    try:
        serve(options)
    except (ServerError, AuthError) as exc:
        raise UsageError(str(exc)) from None
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run alone (``python -m ksched.cli.apiserver_cmd``): starts quicker than the full CLI."""
    parser = argparse.ArgumentParser(prog="ksched")
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["apiserver", *(sys.argv[1:] if argv is None else argv)])
    try:
        return run(args)
    except UsageError as exc:
        print(f"ksched apiserver: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
