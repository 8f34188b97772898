"""What every controller shares: informers, a work queue, worker threads, a ``sync(key)``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Final

from ksched.controllers.client import ApiError, KubeClient
from ksched.controllers.informer import Informer
from ksched.controllers.workqueue import WorkQueue

__all__ = ["Controller"]

log = logging.getLogger(__name__)

_MAX_RETRIES: Final = 15


class Controller:
    """Subclasses set ``name``, wire informer handlers to ``queue.add`` and define ``sync``.

    ``sync`` returns normally when the object is as it should be (or gone);
    an ``ApiError`` or connection error requeues the key with backoff, up
    to 15 times (client-go's ``maxRetries`` in the ReplicaSet controller).
    """

    name = "controller"

    def __init__(self, client: KubeClient, informers: Sequence[Informer], workers: int) -> None:
        self.client = client
        self.informers = list(informers)
        self.workers = workers
        self.queue = WorkQueue()
        self._threads: list[threading.Thread] = []

    def sync(self, key: str) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Start the workers; the informers are started (and synced) by the caller."""
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"{self.name}-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self.queue.shut_down()
        for t in self._threads:
            t.join(timeout=5)

    def _work(self) -> None:
        queue = self.queue
        while True:
            key = queue.get()
            if key is None:
                return
            try:
                self.sync(key)
            except (ApiError, OSError) as err:
                if queue.retries(key) < _MAX_RETRIES:
                    log.info("%s: sync %s failed (%s), retrying", self.name, key, err)
                    queue.add_rate_limited(key)
                else:
                    log.warning("%s: dropping %s after %d retries", self.name, key, _MAX_RETRIES)
                    queue.forget(key)
            except Exception:
                log.exception("%s: sync %s failed", self.name, key)
                queue.add_rate_limited(key)
            else:
                queue.forget(key)
            finally:
                queue.done(key)
