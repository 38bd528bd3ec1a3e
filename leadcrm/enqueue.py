import logging

from celery import Task
from django.db import transaction

log = logging.getLogger(__name__)


def enqueue_on_commit(task: Task, *args) -> None:
    """Queue `task` once the current transaction commits; never fail the caller.

    Celery's `delay_on_commit` would raise into the request after the commit when the broker is
    down. Here the work is already in the database, marked pending, and the periodic sweep
    queues it again, so a broker outage only delays it.
    """
    transaction.on_commit(lambda: _send(task, args))


def _send(task: Task, args: tuple) -> None:
    try:
        task.delay(*args)
    except Exception as exc:  # kombu raises several types for an unreachable broker
        log.warning("Could not queue %s (%s); the sweep will queue it again.", task.name, type(exc).__name__)
