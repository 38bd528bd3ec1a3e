"""Pulling CRF leads from Azure Storage: one run per source, recorded whatever happens, and what
/healthz/ and the admin show of the sources (docs/contract.md#6-pulling-leads-from-azure-storage).

CRF pushes leads into a queue or a blob container with its own add-only SAS; LeadCRM reads them
with a SAS the lender creates (queue: read + process; container: read + list, + delete).

Every lead goes through `intake.services.receive_lead`, and nothing leaves Azure before the
delivery it became has committed. A crash can therefore only make a lead come back, never lose
one, and what comes back is recognised: an identical body by `delivery_lead_body_uniq`, a queue
message by `delivery_queue_message_uniq`, a blob by its ledger row (`pulled_blob_uniq`).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from leadcrm.logs import redact
from leads.choices import DeliveryOutcome, DeliverySource
from leads.models import LeadDelivery, PullRun

from . import sas
from .base import AZURE_BLOB, AZURE_QUEUE, MAX_ERROR, Tally, describe
from .blobs import pull_blobs
from .queue import pull_queue

log = logging.getLogger(__name__)

SETTINGS = {AZURE_QUEUE: "CRF_AZURE_QUEUE_URL", AZURE_BLOB: "CRF_AZURE_BLOB_URL"}
PULLERS = {AZURE_QUEUE: pull_queue, AZURE_BLOB: pull_blobs}
KEEP_RUNS = timedelta(days=30)


def configured_sources() -> list[str]:
    return [source for source, setting in SETTINGS.items() if getattr(settings, setting)]


def pull(source: str) -> PullRun:
    """One pull from one source, recorded as a PullRun whatever happens."""
    run = PullRun.objects.create(source=source)
    tally = Tally()
    try:
        target = sas_url(source)
        run.target = target.resource
        PULLERS[source](target, tally)
    except Exception as exc:
        log.warning("Pulling leads from %s stopped: %s", run.target or source, describe(exc))
        tally.errors.append(describe(exc))
    _finish(run, tally)
    return run


def sas_url(source: str) -> sas.SasUrl:
    setting = SETTINGS[source]
    try:
        return sas.parse(getattr(settings, setting), settings.CRF_AZURE_ALLOWED_HOSTS)
    except sas.UnsafeSasUrl as exc:
        raise sas.UnsafeSasUrl(f"{setting} is refused: {exc}.") from None


def _finish(run: PullRun, tally: Tally) -> None:
    run.finished_at = timezone.now()
    run.taken, run.duplicates, run.rejected = tally.taken, tally.duplicates, tally.rejected
    run.failed, run.pending = tally.failed, tally.pending
    run.error = redact("\n".join(tally.errors))[:MAX_ERROR]
    run.save()
    PullRun.objects.filter(started_at__lt=run.started_at - KEEP_RUNS).delete()


# --- What /healthz/ and the admin show ---------------------------------------------------------


def health_warnings(now: datetime | None = None) -> list[str]:
    """A refused or soon-expiring SAS URL, and a configured source whose last pull failed."""
    now = now or timezone.now()
    warnings = []
    for source, setting in SETTINGS.items():
        if not getattr(settings, setting):
            continue
        try:
            warning = sas.expiry_warning(setting, sas_url(source), now)
        except sas.UnsafeSasUrl as exc:
            warning = str(exc)
        warnings += [w for w in (warning, _failure(last_run(source))) if w]
    return warnings


def last_run(source: str) -> PullRun | None:
    return PullRun.objects.filter(source=source).order_by("-started_at").first()


def _failure(run: PullRun | None) -> str | None:
    if run is None or not run.error or run.finished_at is None:
        return None
    when = f"{run.started_at:%Y-%m-%d %H:%M} UTC"
    return f"The last {run.get_source_display()} pull ({when}) failed: {run.error.splitlines()[0]}"


def sources_status(now: datetime | None = None) -> list[dict]:
    """Each source for the admin: configured or not, its SAS, its last run, what is pending."""
    now = now or timezone.now()
    counted = (
        LeadDelivery.objects.filter(source__in=list(SETTINGS))
        .filter(outcome__in=[DeliveryOutcome.PENDING, DeliveryOutcome.REJECTED])
        .values_list("source", "outcome")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {(source, outcome): n for source, outcome, n in counted}
    return [_source_status(source, setting, now, counts) for source, setting in SETTINGS.items()]


def _source_status(source: str, setting: str, now: datetime, counts: dict) -> dict:
    status = {
        "source": source,
        "label": DeliverySource(source).label,
        "setting": setting,
        "configured": False,
        "last_run": last_run(source),
        "deliveries_pending": counts.get((source, DeliveryOutcome.PENDING), 0),
        "deliveries_rejected": counts.get((source, DeliveryOutcome.REJECTED), 0),
    }
    if getattr(settings, setting):
        try:
            target = sas_url(source)
        except sas.UnsafeSasUrl as exc:
            return {**status, "configured": True, "problem": str(exc)}
        status.update(
            configured=True,
            resource=target.resource,
            expires_at=target.expires_at,
            permissions=target.permissions,
            warning=sas.expiry_warning(setting, target, now),
        )
    return status
