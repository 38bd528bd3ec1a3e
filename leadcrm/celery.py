import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadcrm.settings")

app = Celery("leadcrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
def _close_old_connections(task, **_) -> None:
    """Before each task, as Django does before each request: a database connection older than
    CONN_MAX_AGE, or broken, is closed, and the next query checks the one kept (CONN_HEALTH_CHECKS).

    Celery's own handling (a new connection for every task) is turned off by CELERY_DB_REUSE_MAX.
    A task run in-process (no broker) uses its caller's connection, maybe inside a transaction.
    """
    from django.db import close_old_connections

    if not task.request.is_eager:
        close_old_connections()
