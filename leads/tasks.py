import uuid

from celery import shared_task

from . import pull, services


@shared_task
def process_lead_deliveries(lead_id: str) -> int:
    return services.process_lead(uuid.UUID(lead_id))


@shared_task
def sweep_lead_deliveries() -> int:
    """Queue leads whose deliveries were left unqueued (the broker was down) or are due a retry."""
    return services.queue_due_leads()


@shared_task
def pull_crf_leads() -> int:
    """Beat's pull from the configured Azure sources; nothing, at once, when none is configured.

    Runs may overlap (a slow run, two beats): every step is safe to run twice.
    """
    runs = [pull.pull(source) for source in pull.configured_sources()]
    return sum(run.taken for run in runs)
