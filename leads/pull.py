"""Pulling CRF leads from Azure Storage (seed 000, "Queueing Leads"; CONTRACT §3).

CRF pushes leads into a queue or a blob container with its own add-only SAS; LeadCRM reads them
with a SAS the lender creates (queue: read + process; container: read + list, + delete).

Every lead goes through `services.receive_lead`, and nothing leaves Azure before the delivery
it became has committed. A crash can therefore only make a lead come back, never lose one, and
what comes back is recognised: an identical body by `delivery_lead_body_uniq`, a queue message
by `delivery_queue_message_uniq`, a blob by its ledger row (`pulled_blob_uniq`).
"""

import base64
import binascii
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobProperties, ContainerClient
from azure.storage.blob import ExponentialRetry as BlobRetry
from azure.storage.queue import ExponentialRetry as QueueRetry
from azure.storage.queue import QueueClient, QueueMessage
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from . import sas, services
from .choices import DeliveryOutcome, DeliverySource
from .models import QUEUE_MESSAGE_ID, LeadDelivery, PulledBlob, PullRun

log = logging.getLogger(__name__)

AZURE_QUEUE, AZURE_BLOB = DeliverySource.AZURE_QUEUE, DeliverySource.AZURE_BLOB
SETTINGS = {AZURE_QUEUE: "CRF_AZURE_QUEUE_URL", AZURE_BLOB: "CRF_AZURE_BLOB_URL"}
QUEUE_BATCH = 32  # the most one Get Messages call returns
POISON_AFTER = 5  # a message that has come back this many times is set aside, not retried
QUEUE_RUN_LIMIT = 5000  # messages per run: a queue that never empties still lets a run end
BLOB_PAGE_SIZE = 1000
KEEP_RUNS = timedelta(days=30)
MAX_ERROR = 2000
# Azure's retry waits 15 s, then longer; a scheduled pull is retried by the next run anyway.
RETRY = {"initial_backoff": 1, "increment_base": 2, "retry_total": 2}
HINTS = {
    "AuthorizationPermissionMismatch": (
        " The SAS lacks a permission: a queue needs read + process, a container read + list"
        " (+ delete with CRF_AZURE_BLOB_DELETE). CRF's add-only SAS cannot read."
    ),
    "AuthenticationFailed": " The signature is wrong, or the SAS has expired.",
}

TAKEN, DUPLICATE, REJECTED = "taken", "duplicates", "rejected"


class Undecodable(ValueError):
    pass


@dataclass
class Tally:
    taken: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    pending: int | None = None
    errors: list[str] = field(default_factory=list)

    def count(self, kind: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)

    def fail(self, what: str, exc: Exception) -> None:
        self.failed += 1
        self.errors.append(f"{what}: {describe(exc)}")


# --- Runs ---------------------------------------------------------------------------------------


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
    run.error = sas.redact("\n".join(tally.errors))[:MAX_ERROR]
    run.save()
    PullRun.objects.filter(started_at__lt=run.started_at - KEEP_RUNS).delete()


def describe(exc: Exception) -> str:
    """One line for a person, never the signature (urllib3 puts request URLs in its errors)."""
    code = getattr(exc, "error_code", None)
    if isinstance(exc, HttpResponseError) and code:
        first_line = str(exc.message or exc).splitlines()[0]
        return sas.redact(f"{code}: {first_line}{HINTS.get(str(code), '')}")
    if isinstance(exc, sas.UnsafeSasUrl):
        return str(exc)
    return sas.redact(f"{type(exc).__name__}: {exc}")[:MAX_ERROR]


# --- Queue --------------------------------------------------------------------------------------


def _pull_queue(target: sas.SasUrl, tally: Tally) -> None:
    queue = QueueClient.from_queue_url(target.url, retry_policy=QueueRetry(**RETRY))
    messages = queue.receive_messages(
        messages_per_page=QUEUE_BATCH,
        visibility_timeout=settings.CRF_AZURE_VISIBILITY_TIMEOUT,
        max_messages=QUEUE_RUN_LIMIT,
    )
    # Each page is hidden from other pullers for the visibility timeout when it is received;
    # one that is not deleted in time (a crash) comes back to whichever puller asks next.
    for message in messages:
        if _take_message(message, target.resource, tally):
            _delete_message(queue, message)
    tally.pending = queue.get_queue_properties().approximate_message_count


def _take_message(message: QueueMessage, resource: str, tally: Tally) -> bool:
    """Store one message as a delivery; True once it has committed and may be deleted."""
    headers = {
        "azure-queue": resource,
        QUEUE_MESSAGE_ID: message.id,
        "azure-dequeue-count": str(message.dequeue_count),
        "azure-inserted-on": message.inserted_on.isoformat() if message.inserted_on else "",
    }
    try:
        tally.count(_store_message(message.content or "", message.dequeue_count or 0, headers))
    except Exception as exc:  # left in the queue: it comes back after the visibility timeout
        log.warning("Queue message %s left for a later run: %s", message.id, describe(exc))
        tally.fail(f"message {message.id}", exc)
        return False
    return True


def _store_message(content: str, dequeue_count: int, headers: dict) -> str:
    source = AZURE_QUEUE
    if dequeue_count > POISON_AFTER:
        error = f"Set aside as poison: taken {dequeue_count} times and never deleted."
        services.reject_delivery(content.encode(), error, source=source, headers=headers)
        return REJECTED
    try:
        body, encoding = decode_message(content)
    except Undecodable as exc:
        services.reject_delivery(content.encode(), str(exc), source=source, headers=headers)
        return REJECTED
    return _receive(body, {**headers, "azure-body-encoding": encoding}, source)


def decode_message(content: str) -> tuple[bytes, str]:
    """A message body is JSON as is, or base64-encoded JSON (what older Azure SDKs send)."""
    plain = content.encode()
    if _is_json(plain):
        return plain, "plain"
    try:
        decoded = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise Undecodable("The message is neither JSON nor base64-encoded JSON.") from None
    if not _is_json(decoded):
        raise Undecodable("The message is base64, but what it encodes is not JSON.")
    return decoded, "base64"


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


def _delete_message(queue: QueueClient, message: QueueMessage) -> None:
    try:
        queue.delete_message(message)
    except HttpResponseError as exc:
        # Its visibility timeout ran out and another puller holds it now, or it is gone. Either
        # way the delivery is stored: whoever takes it next finds it stored and deletes it.
        log.warning("Queue message %s stored but not deleted: %s", message.id, describe(exc))


# --- Blob container ----------------------------------------------------------------------------


def _pull_blobs(target: sas.SasUrl, tally: Tally) -> None:
    container = ContainerClient.from_container_url(target.url, retry_policy=BlobRetry(**RETRY))
    pending = 0
    # by_page() follows the listing's continuation marker from page to page.
    for page in container.list_blobs(results_per_page=BLOB_PAGE_SIZE).by_page():
        blobs = list(page)
        ledger = _ledger(target.resource, blobs)
        for blob in blobs:
            key = (blob.name, _etag(blob.etag))
            if key not in ledger:
                pending += not _take_blob(container, target.resource, blob, tally)
            elif settings.CRF_AZURE_BLOB_DELETE and ledger[key] is None:
                _delete_blob(container, target.resource, *key)  # a deletion that failed before
    tally.pending = pending


def _ledger(resource: str, blobs: list[BlobProperties]) -> dict[tuple[str, str], datetime | None]:
    """The page's blobs already taken, with when they were deleted: one query per page."""
    rows = PulledBlob.objects.filter(container=resource, name__in=[blob.name for blob in blobs])
    taken = rows.values_list("name", "etag", "deleted_at")
    return {(name, etag): deleted for name, etag, deleted in taken}


def _take_blob(
    container: ContainerClient, resource: str, blob: BlobProperties, tally: Tally
) -> bool:
    """Take one blob; False when it stays pending (it could not be read or stored)."""
    etag = _etag(blob.etag)
    try:
        data = container.download_blob(
            blob.name, etag=blob.etag, match_condition=MatchConditions.IfNotModified
        ).readall()
        kinds = _store_blob(resource, blob.name, etag, data)
    except (ResourceNotFoundError, ResourceModifiedError):
        # Gone or changed since the listing: another puller took and deleted it (the emulator
        # answers that with 412 as well as 404), or CRF rewrote it and the next listing shows
        # its new ETag.
        return PulledBlob.objects.filter(container=resource, name=blob.name, etag=etag).exists()
    except Exception as exc:
        log.warning("Blob %s left for a later run: %s", blob.name, describe(exc))
        tally.fail(f"blob {blob.name}", exc)
        return False
    if kinds is None:
        return True  # another puller claimed it first
    for kind in kinds:
        tally.count(kind)
    if settings.CRF_AZURE_BLOB_DELETE:
        _delete_blob(container, resource, blob.name, etag)
    return True


@transaction.atomic
def _store_blob(resource: str, name: str, etag: str, data: bytes) -> list[str] | None:
    """Claim the blob in the ledger and store its leads in one transaction.

    Two pullers may both download a blob; the ledger's unique constraint lets one claim it (on
    PostgreSQL the second waits for the first to commit), and the other stores nothing.
    Returns what each lead became; None when another puller had it.
    """
    try:
        with transaction.atomic():
            entry = PulledBlob.objects.create(container=resource, name=name, etag=etag)
    except IntegrityError:
        return None
    bodies = split_leads(data)
    headers = {"azure-container": resource, "azure-blob": name, "azure-etag": etag}
    kinds = [
        _receive(body, {**headers, "azure-blob-item": f"{i} of {len(bodies)}"}, AZURE_BLOB)
        for i, body in enumerate(bodies, start=1)
    ]
    PulledBlob.objects.filter(pk=entry.pk).update(leads=len(bodies))
    return kinds


def split_leads(data: bytes) -> list[bytes]:
    """A blob holds one lead or a JSON array of leads; each lead keeps its bytes as they came
    (re-serialising would change numbers and the body hash that recognises a re-delivery)."""
    try:
        text = data.decode()
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        return [data]  # receive_lead keeps it as a rejected delivery
    if not isinstance(parsed, list):
        return [data]
    decoder, items, position = json.JSONDecoder(), [], text.index("[") + 1
    for _ in parsed:  # the array is valid JSON: between items there are only commas and spaces
        while text[position] in ", \t\r\n":
            position += 1
        _, end = decoder.raw_decode(text, position)
        items.append(text[position:end].encode())
        position = end
    return items


def _delete_blob(container: ContainerClient, resource: str, name: str, etag: str) -> None:
    """Only the version that was taken: one CRF rewrote since stays for the next run."""
    try:
        container.delete_blob(name, etag=etag, match_condition=MatchConditions.IfNotModified)
    except ResourceNotFoundError:
        pass  # another puller deleted it
    except HttpResponseError as exc:
        log.warning("Blob %s taken but not deleted: %s", name, describe(exc))
        return
    PulledBlob.objects.filter(container=resource, name=name, etag=etag).update(
        deleted_at=timezone.now()
    )


def _etag(etag: str) -> str:
    return etag.strip('"')  # listings give it bare, downloads quoted


def _receive(body: bytes, headers: dict, source: str) -> str:
    receipt = services.receive_lead(body, headers=headers, source=source)
    return REJECTED if receipt.invalid else DUPLICATE if receipt.duplicate else TAKEN


PULLERS = {AZURE_QUEUE: _pull_queue, AZURE_BLOB: _pull_blobs}


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
        .values_list("source", "outcome").annotate(n=Count("id")).order_by()
    )
    counts = {(source, outcome): n for source, outcome, n in counted}
    return [_source_status(source, setting, now, counts) for source, setting in SETTINGS.items()]


def _source_status(source: str, setting: str, now: datetime, counts: dict) -> dict:
    status = {
        "source": source, "label": DeliverySource(source).label, "setting": setting,
        "configured": False, "last_run": last_run(source),
        "deliveries_pending": counts.get((source, DeliveryOutcome.PENDING), 0),
        "deliveries_rejected": counts.get((source, DeliveryOutcome.REJECTED), 0),
    }
    if getattr(settings, setting):
        try:
            target = sas_url(source)
        except sas.UnsafeSasUrl as exc:
            return {**status, "configured": True, "problem": str(exc)}
        status.update(
            configured=True, resource=target.resource, expires_at=target.expires_at,
            permissions=target.permissions, warning=sas.expiry_warning(setting, target, now),
        )
    return status

