"""Celery tasks of the intake: thin, idempotent, by id. Their names stay those of the modules they
were first written in, so messages already queued and the beat schedule still find them."""

import uuid

from celery import shared_task

from . import services


@shared_task(name=services.PROCESS_TASK)
def process_lead_deliveries(lead_id: str) -> int:
    return services.process_lead(uuid.UUID(lead_id))


@shared_task(name=services.PROCESS_BATCH_TASK)
def process_leads(lead_ids: list[str]) -> int:
    return services.process_leads([uuid.UUID(lead_id) for lead_id in lead_ids])


@shared_task(name="leads.tasks.sweep_lead_deliveries")
def sweep_lead_deliveries() -> int:
    """Queue leads whose deliveries were left unqueued (the broker was down) or are due a retry."""
    return services.queue_due_leads()
