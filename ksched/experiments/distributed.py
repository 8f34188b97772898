"""The grid on an existing Dask cluster, given its scheduler's address.

Why Dask distributed rather than Ray: a sweep is ~1,000 independent,
seconds-long, CPU-bound Python tasks whose inputs are a few MB of numpy
tables; it needs a scheduler, workers on other machines and futures, and
nothing of Ray's actors, object store or autoscaler. ``distributed`` is a
pure-Python wheel from PyPI (no native runtime, small install, any Python
3.11 platform); its scheduler and workers are ordinary processes
(``dask scheduler``, ``dask worker ADDRESS``) that a user starts by hand, on
SSH hosts, or on a batch system (dask-jobqueue), and a test starts on
loopback in seconds. Ray ships a large platform-specific wheel with its own
raylet and object store processes: more to install and start for nothing
this workload uses.

Workers need ksched installed (the policies' plugin packages too), not the
trace files or profile files: the client loads each workload once and
scatters it to every worker, and each task carries its profile's YAML text.
Records come back to the client, which writes them, so workers need no
shared filesystem.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ksched.experiments.cells import Cell, Policy, load_workload, run_cell
from ksched.experiments.grid import Outcome

__all__ = ["DaskCluster"]


@dataclass(frozen=True)
class DaskCluster:
    """A backend for ``run_grid``: ``address`` is the Dask scheduler's, e.g. tcp://host:8786."""

    address: str
    trace_dir: str | None = None
    timeout_s: float = 30.0

    def run(self, tasks: Sequence[tuple[Cell, Policy]]) -> Iterator[tuple[Cell, Outcome]]:
        try:
            from distributed import Client, as_completed
        except ImportError as exc:  # pragma: no cover - a dependency of ksched
            raise RuntimeError(f"the Dask backend needs 'distributed': {exc}") from None
        try:
            client = Client(self.address, timeout=self.timeout_s, set_as_default=False)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {self.address}: {exc}"
            ) from None
        try:
            scattered: dict[str, Any] = {}
            futures: dict[Any, Cell] = {}
            for cell, policy in tasks:
                if cell.workload not in scattered:
                    workload = load_workload(cell.workload, self.trace_dir)
                    scattered[cell.workload] = client.scatter(workload, broadcast=True)  # type: ignore[no-untyped-call]
                future = client.submit(run_cell, cell, policy, scattered[cell.workload], pure=False)
                futures[future] = cell
            for future in as_completed(list(futures), loop=client.loop):  # type: ignore[no-untyped-call]
                cell = futures[future]
                if future.status == "error":
                    yield cell, future.exception()
                else:
                    yield cell, future.result()
        finally:
            client.close()  # type: ignore[no-untyped-call]
