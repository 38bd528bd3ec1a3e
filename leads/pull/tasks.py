"""Beat's pull (its name is the one it was first written under: the schedule still finds it)."""

from celery import shared_task

from . import runs


@shared_task(name="leads.tasks.pull_crf_leads")
def pull_crf_leads() -> int:
    """Beat's pull from the configured Azure sources; nothing, at once, when none is configured.

    Runs may overlap (a slow run, two beats): every step is safe to run twice.
    """
    return sum(run.taken for run in (runs.pull(source) for source in runs.configured_sources()))
