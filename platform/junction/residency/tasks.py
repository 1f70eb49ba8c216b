"""The project's task decorator for region-bound work.

`region_task` routes each call to the queue `region.<code>`, and refuses to run a task in a
worker that does not serve that region (a misrouted message never touches the wrong database).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from celery import Task
from celery.exceptions import Reject
from celery.signals import celeryd_after_setup
from django.conf import settings

from junction.celery import app
from junction.residency.planes import region_of_queue, region_queue

log = logging.getLogger(__name__)

# Regions this worker process consumes, from its -Q queues; None outside a worker (eager calls).
_worker_regions: frozenset[str] | None = None


@celeryd_after_setup.connect
def _record_worker_regions(sender: str, instance: Any, **kwargs: Any) -> None:
    global _worker_regions
    queues = instance.app.amqp.queues.consume_from or {}
    _worker_regions = frozenset(filter(None, map(region_of_queue, queues)))
    log.info("worker serves regions: %s", ", ".join(sorted(_worker_regions)) or "none")


class RegionRefused(Exception):
    """A region task reached a worker that does not serve its region."""


def check_region_served(region: str) -> None:
    if region not in settings.SERVED_REGIONS:
        raise RegionRefused(f"this node does not serve region {region!r}")
    if _worker_regions is not None and region not in _worker_regions:
        raise RegionRefused(
            f"worker consumes {sorted(_worker_regions)} and refuses a task for region {region!r}"
        )


class RegionTask(Task):
    abstract = True

    def apply_async(self, args=None, kwargs=None, **options: Any):
        region = (kwargs or {}).get("region")
        if not region:
            raise TypeError(f"{self.name} is region-bound: pass region= as a keyword argument")
        options.setdefault("queue", region_queue(region))
        return super().apply_async(args=args, kwargs=kwargs, **options)

    def delay_on_commit(self, *, region: str, **kwargs: Any) -> None:
        """Enqueue once the region's current transaction commits (at once outside one).

        The worker never sees a message about rows it cannot read yet. In-process (eager)
        mode behaves like a broker would for the caller: the task runs with its retries, and
        its failure is logged, never raised into the code that asked for it.
        """
        from django.db import transaction

        from junction.residency.planes import served_alias

        def send() -> None:
            if self.app.conf.task_always_eager:
                self._run_in_process(region=region, **kwargs)
            else:
                self.apply_async(kwargs={"region": region, **kwargs})

        transaction.on_commit(send, using=served_alias(region))

    def _run_in_process(self, **kwargs: Any) -> Any:
        # Celery's eager retry re-raises into the caller after the first retry whatever
        # `throw` says, so the broker's isolation is emulated here: transient errors are
        # retried (without the backoff sleep), anything else is logged like a failed task.
        transient = tuple(getattr(self, "autoretry_for", ()) or ())
        for attempt in range(self.max_retries + 1):
            try:
                return self.run(**kwargs)
            except transient as exc:
                log.info("in-process %s attempt %s failed: %s", self.name, attempt + 1, exc)
            except Exception:  # noqa: BLE001 - a task's failure must not fail the enqueuer
                log.exception("in-process %s failed", self.name)
                return None
        log.error("in-process %s gave up after %s attempts", self.name, self.max_retries + 1)
        return None


def region_task(
    *,
    idempotent: bool,
    transient: tuple[type[BaseException], ...] = (),
    max_retries: int = 5,
    expires: int = 3600,
) -> Callable:
    """Declare a task that works on one region's data; call it with `region=` as a keyword.

    acks_late only for idempotent tasks (a crash mid-task re-runs it); retries with exponential
    backoff for the listed transient errors only; messages older than `expires` are dropped.
    """

    def decorate(fn: Callable) -> Task:
        @functools.wraps(fn)
        def run(*args: Any, region: str, **kwargs: Any) -> Any:
            try:
                check_region_served(region)
            except RegionRefused as exc:
                log.error("refused %s: %s", fn.__name__, exc)
                raise Reject(str(exc), requeue=False) from exc
            return fn(*args, region=region, **kwargs)

        return app.task(
            base=RegionTask,
            name=f"{fn.__module__}.{fn.__name__}",
            acks_late=idempotent,
            reject_on_worker_lost=idempotent,
            autoretry_for=transient,
            retry_backoff=True,
            retry_jitter=True,
            max_retries=max_retries,
            expires=expires,
        )(run)

    return decorate
