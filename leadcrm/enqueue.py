import logging
from collections.abc import Callable, Sequence

from celery import Task
from django.db import transaction

from .celery import app

log = logging.getLogger(__name__)


def enqueue_on_commit(
    task: str,
    *args,
    on_failure: Callable[[], object] | None = None,
    countdown: float | None = None,
) -> None:
    """Queue the task named `task` once the current transaction commits; never fail the caller.

    By name: a service queues its task without importing the task module, which imports it.

    Celery's `delay_on_commit` would raise into the request after the commit when the broker is
    down. Here the work is already in the database, marked pending, and the periodic sweep
    queues it again, so a broker outage only delays it. `on_failure` runs when the broker does
    not take the task (to give back a claim on the work, say). `countdown`: run it that many
    seconds later; without a broker (tasks run in-process) it is not queued at all, and the
    periodic sweep runs it once it is due.
    """
    if countdown is not None and app.conf.task_always_eager:
        return

    def send() -> None:
        if not publish_each(task, [args], countdown=countdown) and on_failure:
            on_failure()

    # robust: an error in on_failure (the database gone too) is logged, not raised into a
    # request whose work is committed already.
    transaction.on_commit(send, robust=True)


def publish_each(task: str, calls: Sequence[tuple], countdown: float | None = None) -> int:
    """Queue `task` once per argument tuple, now, in order; returns how many the broker took.

    The first one the broker refuses ends the run (logged): while it is down, each further try
    would cost a connect timeout. One producer (one broker connection) serves them all.
    """
    published = 0
    if not calls:
        return published  # the sweep, most minutes: nothing to take a broker connection for
    registered: Task = app.tasks[task]  # without a broker, its apply_async runs it in-process
    try:
        with app.producer_or_acquire() as producer:
            for args in calls:
                registered.apply_async(args, producer=producer, countdown=countdown)
                published += 1
    except Exception as exc:  # kombu raises several types for an unreachable broker
        log.warning(
            "Could not queue %s (%s); the sweep will queue it again.", task, type(exc).__name__
        )
    return published
