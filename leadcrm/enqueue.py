import atexit
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial

from celery import Task
from django import db
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


# --- Batched publishing ---------------------------------------------------------------------------
# A webhook answers after its delivery commits; publishing its task in the request cost a third of
# it (a broker round trip and Celery's building of the message). In a web server's process
# (`publish_in_background`, called by leadcrm.wsgi), items of a task that takes a list are instead
# handed to a thread, which publishes one message for all that came within BATCH_WAIT of the
# first. The claim made with the row stays until then: if the broker refuses, `on_failure` gives
# it back; if the process dies first, the claim times out and the sweep queues the work
# (settings.LEAD_REQUEUE_SECONDS). A broker outage or a crash delays work, never drops it.
# Only a broker that took the last message is left to the thread. Until one has (a process just
# started, a broker refusing), the request publishes its own item, or, within RETRY_AFTER of a
# refusal, gives its claim back at once: either way before the webhook answers, so that during
# an outage a sweep run after the answers finds their claims given back. (What the thread held
# when the broker stopped is given back as the thread finds out, within BATCH_WAIT and a refused
# connection.)
# Elsewhere (commands, workers, tests) each item is published as its transaction commits.
BATCH_WAIT = 0.05  # seconds: at most this much added to a task's wait in the queue
BATCH_LIMIT = 500  # items per message: one task applies them in one transaction
RETRY_AFTER = 1.0  # seconds after the broker refused a message before a request tries it again

_waiting: dict[str, list[tuple[object, Callable[[], object] | None]]] = {}
_ready = threading.Condition()
_background = False
# When the broker last refused a message; None while it takes them. Never yet tried: long ago.
_refused_at: float | None = -math.inf
_publisher_pid: int | None = None  # the process whose thread publishes (gunicorn forks workers)


def publish_in_background() -> None:
    """Batch this process's publishing on a thread of its own (a web server's process), unless
    tasks run in-process (no broker: the development server)."""
    global _background
    if app.conf.task_always_eager:
        return
    _background = True
    atexit.register(flush_batches)  # a worker stopped gracefully publishes what it holds
    app.producer_pool  # noqa: B018 (built now, not by the first request: a tenth of a second)


def enqueue_batched_on_commit(
    task: str, item, *, on_failure: Callable[[], object] | None = None
) -> None:
    """Queue `item` for `task`, which takes a list of items, once the current transaction
    commits: in a web server, in one message with the others given meanwhile, the caller not
    waiting for the broker while it takes messages; elsewhere at once, alone. Never fails the
    caller.

    Elsewhere it is `enqueue_on_commit(task, [item])`: without a broker (tasks run in-process)
    the task runs at once with `[item]`.
    """
    if not _background:
        enqueue_on_commit(task, [item], on_failure=on_failure)
        return
    transaction.on_commit(partial(_hand_over, task, item, on_failure), robust=True)


def _hand_over(task: str, item, on_failure: Callable[[], object] | None) -> None:
    global _publisher_pid, _refused_at
    if _refused_at is not None:  # the broker is not known to take messages
        if time.monotonic() - _refused_at >= RETRY_AFTER:
            if publish_each(task, [([item],)]):
                _refused_at = None
                return
            _refused_at = time.monotonic()
        if on_failure:
            on_failure()
        return
    with _ready:
        _waiting.setdefault(task, []).append((item, on_failure))
        if _publisher_pid != os.getpid():
            _publisher_pid = os.getpid()
            threading.Thread(target=_publish_forever, name="batched-publish", daemon=True).start()
        _ready.notify()


def _publish_forever() -> None:
    global _refused_at
    while True:
        with _ready:
            _ready.wait_for(lambda: _waiting)
        time.sleep(BATCH_WAIT)  # what comes meanwhile goes in the same message
        # This thread's database connection (an on_failure's) is kept, as a request's is.
        db.close_old_connections()
        try:
            if not flush_batches():
                _refused_at = time.monotonic()
        except Exception:  # never end the thread: what it failed to publish, the sweep queues
            _refused_at = time.monotonic()
            log.exception("Publishing batched tasks failed")


def flush_batches() -> bool:
    """Publish every item waiting, now, in this thread; whether the broker took them all."""
    with _ready:
        waiting = dict(_waiting)
        _waiting.clear()
    took_all = True
    for task, entries in waiting.items():
        chunks = [entries[n : n + BATCH_LIMIT] for n in range(0, len(entries), BATCH_LIMIT)]
        taken = publish_each(task, [([item for item, _ in chunk],) for chunk in chunks])
        took_all &= taken == len(chunks)
        for _, on_failure in (entry for chunk in chunks[taken:] for entry in chunk):
            if on_failure:
                on_failure()
    return took_all
