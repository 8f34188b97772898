"""``ksched run``: schedule a real cluster's pods as a secondary scheduler.

Pods whose ``spec.schedulerName`` names one of the configuration's profiles
are scheduled and bound through the API server; others are left to their
own scheduler.  SIGTERM and SIGINT stop it gracefully (in-flight bindings
finish, the Lease is released).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from ksched.cli.daemon_gc import tune_gc
from ksched.cli.errors import UsageError
from ksched.config import DEFAULT_SCHEDULER_NAME, default_config, load_config
from ksched.config.feature_gates import (
    DEFAULT_FEATURE_GATES,
    FeatureGateError,
    parse_feature_gates,
)

DEFAULT_LEASE_NAME = "ksched"
KUBE_SCHEDULER_LEASE = "kube-scheduler"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run as a scheduler against a Kubernetes API server")
    p.add_argument(
        "--kubeconfig", type=Path, help="kubeconfig file (default: the pod's service account)"
    )
    p.add_argument(
        "--config", type=Path, help="KubeSchedulerConfiguration YAML (default: built-in)"
    )
    p.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="elect a leader among replicas (default: the configuration's leaderElect)",
    )
    p.add_argument(
        "--lease-name",
        help=f"Lease to elect on (default: the configuration's resourceName, or "
        f'"{DEFAULT_LEASE_NAME}" where that is kube-scheduler\'s own)',
    )
    p.add_argument("--lease-namespace", help="namespace of the Lease (default: configuration's)")
    p.add_argument(
        "--metrics-bind-address",
        default="0.0.0.0:10259",
        help="host:port serving /metrics, /healthz and /readyz (port 0: any; empty: off)",
    )
    p.add_argument(
        "--feature-gates",
        default="",
        metavar="NAME=BOOL,...",
        help="kube-scheduler feature gates to override, e.g. SchedulerPopFromBackoffQ=false "
        f"(known, with defaults: {_known_gates()})",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(run=run)


def _known_gates() -> str:
    return ", ".join(f"{k}={str(v).lower()}" for k, v in DEFAULT_FEATURE_GATES.items())


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f'--metrics-bind-address: expected host:port, got "{text}"')
    return host.strip("[]") or "0.0.0.0", int(port)


def run(args: argparse.Namespace) -> int:
    from prometheus_client import disable_created_metrics

    from ksched.live.kube import ApiError, KubeClient
    from ksched.live.leader import LeaseSettings
    from ksched.live.metrics import HealthServer
    from ksched.live.runner import LiveScheduler

    tune_gc()

    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        feature_gates = parse_feature_gates(args.feature_gates)
    except FeatureGateError as exc:
        raise UsageError(f"--feature-gates: {exc}") from None
    config = load_config(args.config) if args.config else default_config()
    disable_created_metrics()  # type: ignore[no-untyped-call]  # kube-scheduler has no *_created
    if any(p.scheduler_name == DEFAULT_SCHEDULER_NAME for p in config.profiles):
        logging.getLogger("ksched").warning(
            "a profile is named %s: ksched will compete with kube-scheduler for its pods",
            DEFAULT_SCHEDULER_NAME,
        )
    election = config.leader_election
    elect = election.leader_elect if args.leader_elect is None else args.leader_elect
    lease = None
    if elect:
        configured = election.resource_name
        name = args.lease_name or (
            DEFAULT_LEASE_NAME if configured == KUBE_SCHEDULER_LEASE else configured
        )
        try:
            lease = LeaseSettings(
                name=name,
                namespace=args.lease_namespace or election.resource_namespace,
                lease_duration=election.lease_duration,
                renew_deadline=election.renew_deadline,
                retry_period=election.retry_period,
            )
        except ValueError as exc:
            raise UsageError(f"leaderElection: {exc}") from None
    metrics_address = _address(args.metrics_bind_address) if args.metrics_bind_address else None
    connection = config.client_connection
    kubeconfig = args.kubeconfig or (Path(connection.kubeconfig) if connection.kubeconfig else None)
    try:
        kube = KubeClient.connect(
            str(kubeconfig) if kubeconfig else None,
            qps=connection.qps,
            burst=connection.burst,
        )
    except ApiError as exc:
        raise UsageError(exc.message) from None
    live = LiveScheduler(kube, config, lease=lease, feature_gates=feature_gates)
    server = None
    if metrics_address is not None:
        try:
            server = HealthServer(
                live.metrics,
                *metrics_address,
                healthy=live.health_problem,
                ready=live.ready_problem,
            )
        except OSError as exc:
            raise UsageError(f"--metrics-bind-address {args.metrics_bind_address}: {exc}") from None
        server.start()
        host, port = server.address
        logging.getLogger("ksched").info("serving /metrics, /healthz, /readyz on %s:%d", host, port)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        live.start()
        code = live.wait(stop)
    except ApiError as exc:
        raise UsageError(f"cannot start: {exc}") from None
    finally:
        live.stop()
        if server is not None:
            server.stop()
    return code
