"""Celery tasks of ownership: thin."""

from celery import shared_task

from . import digest


@shared_task(name="leads.ownership.send_digests")
def send_digests() -> int:
    """Each officer's morning digest, once a day (beat, LEAD_DIGEST_HOUR)."""
    return digest.send_all()
