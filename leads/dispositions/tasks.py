"""Celery tasks of the write-back: thin, idempotent, by lead id."""

import uuid

from celery import shared_task

from . import services


@shared_task(name=services.SEND_TASK)
def send(lead_id: str) -> None:
    services.send(uuid.UUID(lead_id))


@shared_task(name="leads.dispositions.sweep")
def sweep() -> int:
    """Queue the leads whose write-back is due: a retry, a lost task, a sender that died."""
    return services.sweep()


@shared_task(name="leads.dispositions.reconcile")
def reconcile() -> int:
    """Read back from CRF every write-back it has not confirmed (daily)."""
    return services.reconcile()
