"""A real Kubernetes control plane on loopback, for tests that must hold against upstream.

etcd, kube-apiserver (TLS, RBAC, token and service-account authentication)
and optionally kube-scheduler run as child processes built from their Go
modules by ``tools/k8s/build.sh``; nothing here imitates them. Every process
lives in its own temporary directory, on ports picked free on 127.0.0.1, and
is killed when the context exits, when the test fails, or when this Python
process dies (``PR_SET_PDEATHSIG``), so a test run leaves no process behind.

``FakeNodes`` registers Node objects the way a kubelet would (ready, with
allocatable resources) without running kubelets, so a real kube-scheduler has
somewhere to bind pods.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Final, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ksched._scope import Scoped

__all__ = [
    "BUILD_SCRIPT",
    "COMPONENTS",
    "K8S_VERSION",
    "ApiClient",
    "ApiError",
    "BinaryMissingError",
    "ControlPlaneError",
    "FakeNodes",
    "RealControlPlane",
    "bin_dir",
    "binary",
    "ready_node",
    "wait_until",
    "write_kubeconfig",
]

# Must equal k8s.io/kubernetes's version in tools/k8s/go.mod (a test holds them equal).
K8S_VERSION: Final = "v1.37.2"
BUILD_SCRIPT: Final = "tools/k8s/build.sh"
COMPONENTS: Final = ("kubectl", "kube-apiserver", "etcd", "kube-scheduler")

ADMIN_USER: Final = "ksched-admin"
SCHEDULER_USER: Final = "system:kube-scheduler"  # bound by RBAC's bootstrap policy

T = TypeVar("T")

_LOG_TAIL_LINES: Final = 40
_STOP_GRACE_S: Final = 10.0
_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "PUT", "DELETE"})


class BinaryMissingError(RuntimeError):
    """A component has not been built; the message says how to build it."""


class ControlPlaneError(RuntimeError):
    """A component failed to start or died; the message carries its log's tail."""


class ApiError(RuntimeError):
    """The API server answered a request with an error status."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        message = body.get("message", body) if isinstance(body, dict) else body
        super().__init__(f"{method} {path}: HTTP {status}: {message}")
        self.status = status
        self.body = body


def bin_dir() -> Path:
    """Where build.sh puts the binaries of the pinned release."""
    root = os.environ.get("KSCHED_K8S_CACHE") or Path.home() / ".cache" / "ksched" / "k8s"
    return Path(root) / K8S_VERSION / "bin"


def binary(name: str, *, wait: float = 0.0) -> Path:
    """Path of a built component; waits up to ``wait`` seconds for a build in progress."""
    if name not in COMPONENTS:
        raise ValueError(f"unknown Kubernetes component {name!r} (known: {', '.join(COMPONENTS)})")
    path = bin_dir() / name
    deadline = time.monotonic() + wait
    while not os.access(path, os.X_OK):
        if time.monotonic() >= deadline:
            raise BinaryMissingError(
                f"{name} {K8S_VERSION} is not built: {path} does not exist. "
                f"Run {BUILD_SCRIPT} from the repository root (it builds kubectl, "
                "kube-apiserver, etcd and kube-scheduler from their Go modules)."
            )
        time.sleep(1.0)
    return path


def wait_until(
    probe: Callable[[], T | None], what: str, timeout: float = 60.0, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something truthy; raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# Loaded before any fork: the pre-exec hook may only call async-signal-safe code.
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG: Final = 1


def _die_with_parent() -> None:
    # Linux kills the child when the thread that forked it exits, so a crashed
    # or killed test run cannot leave etcd or an apiserver running.
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class _Process:
    """One component: started in its own process group, logging to a file."""

    def __init__(self, name: str, argv: Sequence[str], log: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    def exit_code(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the process group, as a crash would, and reap it."""
        popen = self._signal_group(signal.SIGKILL)
        if popen is not None:
            popen.wait()
            self._popen = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; always reaps."""
        popen = self._signal_group(signal.SIGTERM)
        if popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=_STOP_GRACE_S)
            self.kill()

    def _signal_group(self, sig: signal.Signals) -> subprocess.Popen[bytes] | None:
        """Send ``sig`` to the process group; the process, or None if there is none to reap."""
        if self._popen is not None:
            with contextlib.suppress(ProcessLookupError):  # the group may have exited
                os.killpg(self._popen.pid, sig)
        return self._popen

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    def failure(self, reason: str) -> ControlPlaneError:
        return ControlPlaneError(
            f"{self.name} {reason} (command: {' '.join(self.argv)}; log {self.log}); "
            f"last lines:\n{self.log_tail()}"
        )


@dataclass(frozen=True)
class _Pki:
    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    sa_key: Path
    sa_pub: Path


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _make_pki(directory: Path) -> _Pki:
    """A throwaway CA, a serving certificate for loopback and a service-account key.

    ECDSA P-256 throughout: kube-apiserver accepts it for serving and for
    signing service-account tokens (ES256), and it is generated in microseconds.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    valid_from, valid_to = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ksched-test-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    serving_key = ec.generate_private_key(ec.SECP256R1())
    names = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
    serving_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(serving_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names] + [x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )

    sa_key = ec.generate_private_key(ec.SECP256R1())
    pki = _Pki(
        ca_cert=directory / "ca.crt",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        sa_key=directory / "sa.key",
        sa_pub=directory / "sa.pub",
    )
    pki.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pki.serving_cert.write_bytes(serving_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(serving_key, pki.serving_key)
    _write_key(sa_key, pki.sa_key)
    pki.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki


def write_kubeconfig(path: Path, *, server: str, ca_file: Path, token: str, user: str) -> Path:
    """A kubeconfig that reaches ``server`` with a bearer token, trusting ``ca_file``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "ksched-test",
                "cluster": {"server": server, "certificate-authority": str(ca_file)},
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "ksched-test", "context": {"cluster": "ksched-test", "user": user}}],
        "current-context": "ksched-test",
    }
    path.write_text(json.dumps(config, indent=2))  # JSON is valid kubeconfig YAML
    path.chmod(0o600)
    return path


class ApiClient(Scoped):
    """A minimal JSON client for the API server, safe to share between threads.

    Each thread keeps one TLS connection alive, so registering thousands of
    objects from a thread pool costs one handshake per thread.
    """

    def __init__(self, server: str, token: str, ca_file: Path, timeout: float = 30.0) -> None:
        if not server.startswith("https://"):
            raise ValueError(f"ApiClient needs an https:// server URL, got {server!r}")
        host, _, port = server.removeprefix("https://").rstrip("/").partition(":")
        self.server, self.host, self.port = server, host, int(port or 443)
        self.token, self.ca_file, self.timeout = token, ca_file, timeout
        self._ssl = ssl.create_default_context(cafile=str(ca_file))
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPSConnection] = set()

    def _enter(self) -> None:
        """Nothing: connections open on the first request of each thread."""

    def _exit(self) -> None:
        self.close()

    def copy(self) -> ApiClient:
        """A client with the same identity and its own connections."""
        return ApiClient(self.server, self.token, self.ca_file, self.timeout)

    def _connection(self) -> http.client.HTTPSConnection:
        conn: http.client.HTTPSConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self._ssl
            )
            self._local.conn = conn
            with self._lock:
                self._open.add(conn)
        return conn

    def _drop(self, conn: http.client.HTTPSConnection) -> None:
        conn.close()
        self._local.conn = None
        with self._lock:
            self._open.discard(conn)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        """Send one request; returns (status, decoded JSON body or text)."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request(method, path, body=payload, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                # A kept-alive connection dies when the server restarts. Only
                # idempotent requests are resent: a POST the server did receive
                # must not be applied twice.
                self._drop(conn)
                if attempt == 2 or method not in _IDEMPOTENT:
                    raise
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw.decode(errors="replace")

    def call(self, method: str, path: str, body: Any = None, **kwargs: str) -> Any:
        """Like ``request`` but raises ``ApiError`` on any status >= 400."""
        status, decoded = self.request(method, path, body, **kwargs)
        if status >= 400:
            raise ApiError(method, path, status, decoded)
        return decoded

    def close(self) -> None:
        """Close every thread's connection (the client stays usable)."""
        with self._lock:
            conns, self._open = self._open, set()
        for conn in conns:
            conn.close()
        self._local = threading.local()


class RealControlPlane(Scoped):
    """etcd + kube-apiserver (+ kube-scheduler) of the pinned release, on loopback.

    Use as a context manager. The apiserver runs with TLS, ``Node,RBAC``
    authorisation, a static token file (an admin in ``system:masters`` and
    ``system:kube-scheduler`` for the scheduler) and service-account tokens
    signed by a generated key, i.e. as a kubeadm cluster's would, minus the
    controller manager. Because no controller manager runs, namespaces get
    their ``default`` ServiceAccount from ``create_namespace``.
    """

    def __init__(
        self,
        *,
        scheduler: bool = False,
        scheduler_config: Mapping[str, Any] | None = None,
        apiserver_args: Sequence[str] = (),
        scheduler_args: Sequence[str] = (),
        etcd_fsync: bool = True,
        startup_timeout: float = 90.0,
        keep_workdir: bool = False,
    ) -> None:
        """``scheduler_config`` is merged over the KubeSchedulerConfiguration we write
        (client kubeconfig set, leader election off); ``*_args`` are appended to the
        command lines; ``etcd_fsync=False`` trades durability for speed in throughput runs."""
        self.with_scheduler = scheduler
        self.scheduler_config = dict(scheduler_config or {})
        self.apiserver_args = list(apiserver_args)
        self.scheduler_args = list(scheduler_args)
        self.etcd_fsync = etcd_fsync
        self.startup_timeout = startup_timeout
        self.keep_workdir = keep_workdir or bool(os.environ.get("KSCHED_K8S_KEEP"))
        self.token = os.urandom(16).hex()
        self._scheduler_token = os.urandom(16).hex()
        self._workdir: Path | None = None
        self._etcd: _Process | None = None
        self._apiserver: _Process | None = None
        self._scheduler: _Process | None = None
        self._api: ApiClient | None = None
        self._etcd_url = ""
        self._apiserver_port = 0
        self._scheduler_port = 0
        self.startup_seconds = 0.0

    # -- public surface ---------------------------------------------------------

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise RuntimeError("the control plane is not running; use it as a context manager")
        return self._workdir

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self._apiserver_port}"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (user in ``system:masters``)."""
        return self.workdir / "admin.kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "pki" / "ca.crt"

    @property
    def api(self) -> ApiClient:
        """An admin JSON client."""
        if self._api is None:
            raise RuntimeError("the control plane is not running; use it as a context manager")
        return self._api

    @property
    def pids(self) -> dict[str, int]:
        """Live component processes by name, for tests that check cleanup."""
        procs = {"etcd": self._etcd, "kube-apiserver": self._apiserver}
        procs["kube-scheduler"] = self._scheduler
        return {n: p.pid for n, p in procs.items() if p is not None and p.pid is not None}

    def _enter(self) -> None:
        self.start()

    def _exit(self) -> None:
        self.stop()

    def start(self) -> None:
        started = time.monotonic()
        needed = COMPONENTS if self.with_scheduler else ("kubectl", "kube-apiserver", "etcd")
        binaries = {name: binary(name) for name in needed}
        self._workdir = Path(tempfile.mkdtemp(prefix="ksched-k8s-"))
        try:
            pki = _make_pki(self.workdir / "pki")
            self._start_etcd(binaries["etcd"])
            self._apiserver_port = _free_port()
            self._apiserver = _Process(
                "kube-apiserver",
                self._apiserver_argv(binaries["kube-apiserver"], pki),
                self.workdir / "kube-apiserver.log",
            )
            self._api = ApiClient(self.server, self.token, self.ca_file)
            write_kubeconfig(
                self.kubeconfig,
                server=self.server,
                ca_file=self.ca_file,
                token=self.token,
                user=ADMIN_USER,
            )
            self.start_apiserver()
            # The ServiceAccount admission plugin refuses pods whose account is
            # missing; the controller manager would have created this one.
            self.create_namespace("default")
            if self.with_scheduler:
                self._start_scheduler(binaries["kube-scheduler"])
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        """Stop the scheduler, apiserver and etcd (in that order) and remove the workdir."""
        for proc in (self._scheduler, self._apiserver, self._etcd):
            if proc is not None:
                proc.stop()
        self._scheduler = self._apiserver = self._etcd = None
        if self._api is not None:
            self._api.close()
            self._api = None
        if self._workdir is not None and not self.keep_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._workdir = None

    def kill_apiserver(self) -> None:
        """``kill -9`` the apiserver, as a crash would; etcd keeps running."""
        if self._apiserver is None:
            raise RuntimeError("the control plane is not running")
        self._apiserver.kill()

    def start_apiserver(self) -> None:
        """(Re)start the apiserver on the same port and etcd, and wait for ``/readyz``."""
        if self._apiserver is None:
            raise RuntimeError("the control plane is not running")
        if self._apiserver.running():
            raise RuntimeError("kube-apiserver is already running")
        self._apiserver.start()
        self._wait_apiserver_ready()

    def restart_apiserver(self, down_for: float = 0.0) -> None:
        """Kill -9 the apiserver, stay down ``down_for`` seconds, start it again."""
        self.kill_apiserver()
        time.sleep(down_for)
        self.start_apiserver()

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        kubeconfig: Path | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run the pinned kubectl against this cluster (admin unless ``kubeconfig``)."""
        argv = [str(binary("kubectl")), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(
                f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}"
            )
        return result

    def create_namespace(self, name: str) -> None:
        """Create a namespace (if absent) and its ``default`` ServiceAccount."""
        self._create_if_absent(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
        )
        self.create_service_account("default", name)

    def create_service_account(self, name: str, namespace: str = "default") -> None:
        """Create a ServiceAccount (if absent)."""
        self._create_if_absent(
            f"/api/v1/namespaces/{namespace}/serviceaccounts",
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}},
        )

    def service_account_token(
        self, name: str, namespace: str = "default", duration: str = "2h"
    ) -> str:
        """A bound token for a ServiceAccount, via TokenRequest (``kubectl create token``)."""
        result = self.kubectl("create", "token", name, "-n", namespace, f"--duration={duration}")
        return result.stdout.strip()

    def write_kubeconfig(self, path: Path, token: str, user: str = "ksched-test-user") -> Path:
        """A kubeconfig for this cluster with another identity's bearer token."""
        return write_kubeconfig(
            path, server=self.server, ca_file=self.ca_file, token=token, user=user
        )

    # -- internals --------------------------------------------------------------

    def _create_if_absent(self, collection: str, obj: Mapping[str, Any]) -> None:
        status, body = self.api.request("POST", collection, obj)
        if status >= 400 and status != 409:
            raise ApiError("POST", collection, status, body)

    def _start_etcd(self, etcd: Path) -> None:
        # Ports are picked free then bound by etcd, so another process can take
        # one in between; try fresh ports a few times before giving up.
        for attempt in range(3):
            client, peer = _free_port(), _free_port()
            self._etcd_url = f"http://127.0.0.1:{client}"
            argv = [
                str(etcd),
                "--name=ksched-test",
                f"--data-dir={self.workdir / f'etcd-{attempt}'}",
                f"--listen-client-urls={self._etcd_url}",
                f"--advertise-client-urls={self._etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=ksched-test=http://127.0.0.1:{peer}",
                "--log-level=warn",
            ]
            if not self.etcd_fsync:
                argv.append("--unsafe-no-fsync")
            self._etcd = _Process("etcd", argv, self.workdir / "etcd.log")
            self._etcd.start()
            try:
                self._wait(self._etcd, self._etcd_healthy, "did not report healthy")
                return
            except ControlPlaneError:
                self._etcd.kill()
                if attempt == 2:
                    raise

    def _etcd_healthy(self) -> bool:
        conn = http.client.HTTPConnection(self._etcd_url.removeprefix("http://"), timeout=2)
        try:
            conn.request("GET", "/health")
            return b'"health":"true"' in conn.getresponse().read()
        finally:
            conn.close()

    def _apiserver_argv(self, apiserver: Path, pki: _Pki) -> list[str]:
        tokens = self.workdir / "tokens.csv"
        # token,user,uid,"groups" — the static token file format.
        tokens.write_text(
            f'{self.token},{ADMIN_USER},ksched-admin,"system:masters"\n'
            f"{self._scheduler_token},{SCHEDULER_USER},ksched-scheduler\n"
        )
        tokens.chmod(0o600)
        return [
            str(apiserver),
            f"--etcd-servers={self._etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self._apiserver_port}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=Node,RBAC",
            "--anonymous-auth=false",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--api-audiences=https://kubernetes.default.svc",
            "--service-cluster-ip-range=10.96.0.0/16",
            # Endpoints may not be loopback addresses, and nothing routes the
            # kubernetes Service here, so its endpoint reconciler stays off.
            "--endpoint-reconciler-type=none",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            "--profiling=false",
            *self.apiserver_args,
        ]

    def _apiserver_ready(self) -> bool:
        status, _ = self.api.request("GET", "/readyz")
        return status == 200

    def _wait_apiserver_ready(self) -> None:
        assert self._apiserver is not None
        self._wait(self._apiserver, self._apiserver_ready, "did not become ready (/readyz)")

    def _start_scheduler(self, scheduler: Path) -> None:
        kubeconfig = write_kubeconfig(
            self.workdir / "scheduler.kubeconfig",
            server=self.server,
            ca_file=self.ca_file,
            token=self._scheduler_token,
            user=SCHEDULER_USER,
        )
        config: dict[str, Any] = {
            "apiVersion": "kubescheduler.config.k8s.io/v1",
            "kind": "KubeSchedulerConfiguration",
            # Off by default: a scheduler that cannot renew its lease while a
            # test restarts the apiserver exits, and one replica needs no lease.
            "leaderElection": {"leaderElect": False},
        }
        _merge(config, self.scheduler_config)
        config.setdefault("clientConnection", {})["kubeconfig"] = str(kubeconfig)
        config_path = self.workdir / "scheduler-config.yaml"
        config_path.write_text(json.dumps(config, indent=2))
        self._scheduler_port = _free_port()
        self._scheduler = _Process(
            "kube-scheduler",
            [
                str(scheduler),
                f"--config={config_path}",
                "--bind-address=127.0.0.1",
                f"--secure-port={self._scheduler_port}",
                f"--cert-dir={self.workdir / 'scheduler-certs'}",
                *self.scheduler_args,
            ],
            self.workdir / "kube-scheduler.log",
        )
        self._scheduler.start()
        self._wait(self._scheduler, self._scheduler_ready, "did not become ready (/readyz)")

    def _scheduler_ready(self) -> bool:
        # The scheduler serves a self-signed certificate of its own making.
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self._scheduler_port, timeout=2, context=insecure
        )
        try:
            conn.request("GET", "/readyz")
            return conn.getresponse().status == 200
        finally:
            conn.close()

    def _wait(self, proc: _Process, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not proc.running():
                raise proc.failure(f"exited with code {proc.exit_code()} before it was ready")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if ready():
                    return
            time.sleep(0.1)
        raise proc.failure(f"{what} within {self.startup_timeout:.0f} s")


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> None:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def ready_node(
    name: str,
    *,
    cpu: str = "32",
    memory: str = "256Gi",
    pods: int = 110,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """A Node object as a kubelet registers it: labelled, sized, ``Ready``."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    resources = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                **(labels or {}),
            },
        },
        "spec": {"taints": [dict(t) for t in taints]},
        "status": {
            "capacity": resources,
            "allocatable": dict(resources),
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": now,
                    "lastTransitionTime": now,
                }
            ],
        },
    }


class FakeNodes(Scoped):
    """Node objects registered through the API, with no kubelet behind them.

    On create, kube-apiserver's TaintNodesByCondition admission adds the
    ``node.kubernetes.io/not-ready`` taint that the node lifecycle controller
    removes once the kubelet reports ready; with no controller manager running,
    ``register`` puts each node's intended taints back itself.
    """

    def __init__(
        self, api: ApiClient, nodes: Sequence[Mapping[str, Any]], workers: int = 8
    ) -> None:
        self.api = api
        self.nodes = [dict(n) for n in nodes]
        self.workers = workers
        self.names = [str(n["metadata"]["name"]) for n in self.nodes]
        if len(set(self.names)) != len(self.names):
            raise ValueError("FakeNodes: node names must be unique")

    @classmethod
    def uniform(
        cls,
        api: ApiClient,
        count: int,
        *,
        prefix: str = "fake-node-",
        labels_for: Callable[[int], Mapping[str, str]] | None = None,
        **resources: Any,
    ) -> FakeNodes:
        """``count`` identical ready nodes (``ready_node`` keywords), labelled per index."""
        return cls(
            api,
            [
                ready_node(
                    f"{prefix}{i}", labels=labels_for(i) if labels_for else None, **resources
                )
                for i in range(count)
            ],
        )

    def _enter(self) -> None:
        self.register()

    def _exit(self) -> None:
        self.delete()

    def register(self) -> list[str]:
        """Create every node (in parallel) and make it schedulable; returns the names."""
        self._each(self._register_one)
        return self.names

    def delete(self) -> None:
        """Delete every node; already-deleted ones are fine."""

        def delete_one(api: ApiClient, node: Mapping[str, Any]) -> None:
            path = f"/api/v1/nodes/{node['metadata']['name']}"
            status, body = api.request("DELETE", path)
            if status >= 400 and status != 404:
                raise ApiError("DELETE", path, status, body)

        self._each(delete_one)

    @staticmethod
    def _register_one(api: ApiClient, node: Mapping[str, Any]) -> None:
        name = node["metadata"]["name"]
        created = api.call("POST", "/api/v1/nodes", node)
        # Create keeps status as a kubelet sends it, but not the taints we asked for.
        if created.get("spec", {}).get("taints") != (node.get("spec", {}).get("taints") or None):
            api.call(
                "PATCH",
                f"/api/v1/nodes/{name}",
                {"spec": {"taints": node.get("spec", {}).get("taints") or None}},
                content_type="application/merge-patch+json",
            )

    def _each(self, fn: Callable[[ApiClient, Mapping[str, Any]], None]) -> None:
        # The pool's threads each hold a connection: a client of its own closes them all.
        with self.api.copy() as api, ThreadPoolExecutor(max_workers=self.workers) as pool:
            for future in [pool.submit(fn, api, node) for node in self.nodes]:
                future.result()
