"""CRF lead intake and processing: the domain work behind the webhook, the pullers, the admin
and the commands.

Intake stores each delivery raw and queues its lead; processing applies a lead's deliveries under
a row lock, newest state last, whatever order the workers run in.
"""

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from operator import attrgetter

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from leadcrm import bulk
from leadcrm.enqueue import enqueue_batched_on_commit, publish_each
from leads.choices import DeliveryOutcome, DeliverySource
from leads.dispositions import services as dispositions
from leads.models import Lead, LeadAssignment, LeadDelivery, StatusChange
from leads.ownership import services as ownership

from . import crf, state

log = logging.getLogger(__name__)

# Queued by name: the task module imports this one, never the other way round.
PROCESS_TASK = "leads.tasks.process_lead_deliveries"  # one lead: the sweep's and a person's
PROCESS_BATCH_TASK = "leads.tasks.process_leads"  # several: the intake's, batched as they come
UNPROCESSED = (DeliveryOutcome.PENDING, DeliveryOutcome.FAILED)
MAX_ATTEMPTS = 8  # retried after 1, 2, 4 … 64 minutes, then left failed for a person to look at
# Deliveries a sweep claims at most: after an outage, a backlog is queued in one run, and this
# only bounds one run's statement and memory (a worker takes well under this between sweeps).
SWEEP_LIMIT = 10_000
# A re-delivery of a delivery still pending under a claim this old queues its lead again.
REDELIVERY_REQUEUE_AFTER = timedelta(seconds=10)


@dataclass(frozen=True)
class Receipt:
    delivery: LeadDelivery
    duplicate: bool = False
    invalid: crf.InvalidLead | None = None


def receive_lead(
    body: bytes,
    *,
    headers: dict | None = None,
    source: str = DeliverySource.WEBHOOK,
    received_at: datetime | None = None,
    queue_message_id: str | None = None,
) -> Receipt:
    """Store one delivery as it came and queue its lead. Commits before returning.

    `received_at` is for sources that know when CRF sent the lead (generated demo data);
    `queue_message_id` for a message pulled from a queue, which may be taken again.
    Receipt order is still the order of this call.
    """
    raw = _raw(body, headers, received_at, queue_message_id)
    try:
        parsed = crf.parse(body)
    except crf.InvalidLead as exc:
        return Receipt(_store_rejected(raw, source, exc.detail), invalid=exc)
    queued_at = timezone.now()
    # Claimed for the task queued below: the sweep leaves the delivery to it, unless the broker
    # does not take it.
    delivery = LeadDelivery(
        **raw,
        source=source,
        lead_id=parsed.id,
        status=parsed.status,
        warnings=parsed.problems,
        queued_at=queued_at,
    )
    if not bulk.insert_one(delivery):
        stored = _stored_already(raw, parsed.id)
        if claimed_at := _claim_again(stored):
            _queue(stored.lead_id, claimed_at)
        return Receipt(stored, duplicate=True)
    _queue(parsed.id, queued_at)
    return Receipt(delivery)


def _queue(lead_id: uuid.UUID, claimed_at: datetime) -> None:
    on_failure = partial(_release, [lead_id], claimed_at)
    enqueue_batched_on_commit(PROCESS_BATCH_TASK, str(lead_id), on_failure=on_failure)


def _claim_again(stored: LeadDelivery) -> datetime | None:
    """Claim a re-delivered delivery again if it is still pending under an old claim: the
    process that stored it may have died before publishing its task (a puller killed between
    its commit and its publish, whose message comes back). Queued again now, not when the claim
    times out (settings.LEAD_REQUEUE_SECONDS); a task that was not lost finds nothing to do."""
    now = timezone.now()
    if stored.outcome != DeliveryOutcome.PENDING or stored.lead_id is None:
        return None
    if stored.queued_at is not None and stored.queued_at >= now - REDELIVERY_REQUEUE_AFTER:
        return None  # as read: no statement for the usual re-delivery of a fresh one
    stale = Q(queued_at__isnull=True) | Q(queued_at__lt=now - REDELIVERY_REQUEUE_AFTER)
    due = LeadDelivery.objects.filter(stale, pk=stored.pk, outcome=DeliveryOutcome.PENDING)
    return now if due.update(queued_at=now) else None


def _alone():
    """The one INSERT of a rejected delivery: a statement of its own, committed as it runs (no
    BEGIN and COMMIT around it); within a caller's transaction, a savepoint, so that a
    duplicate's IntegrityError leaves that transaction usable."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def reject_delivery(
    body: bytes,
    error: str,
    *,
    source: str,
    headers: dict | None = None,
    received_at: datetime | None = None,
    queue_message_id: str | None = None,
) -> LeadDelivery:
    """Keep a body that cannot be a lead (undecodable, poison) as a rejected delivery, shown in
    the admin. Commits before returning, unless the caller holds a transaction."""
    return _store_rejected(_raw(body, headers, received_at, queue_message_id), source, error)


def _raw(
    body: bytes,
    headers: dict | None,
    received_at: datetime | None,
    queue_message_id: str | None = None,  # the bulk import has none
) -> dict:
    return {
        "body": body,
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "headers": headers or {},
        "received_at": received_at or timezone.now(),
        # An empty id names no message: two of them are not one message taken twice.
        "queue_message_id": queue_message_id or None,
    }


def _store_rejected(raw: dict, source: str, error: str) -> LeadDelivery:
    try:
        with _alone():
            return LeadDelivery.objects.create(
                **raw, source=source, outcome=DeliveryOutcome.REJECTED, error=error
            )
    except IntegrityError:
        if raw["queue_message_id"] is None:
            raise  # without a lead or a message id, no constraint says it was stored already
        # The same queue message taken again after a crash between its commit and its
        # deletion: stored once (delivery_queue_message_uniq).
        return LeadDelivery.objects.get(queue_message_id=raw["queue_message_id"])


def _stored_already(raw: dict, lead_id: uuid.UUID) -> LeadDelivery:
    """The row a unique constraint found: the same queue message taken again after a crash
    (delivery_queue_message_uniq), else the same bytes for the same lead, which two messages, or
    a message and a webhook, can both carry (delivery_lead_body_uniq). The message comes first:
    it is one row, whatever lead or outcome it was stored with."""
    if raw["queue_message_id"] is not None:
        stored = LeadDelivery.objects.filter(queue_message_id=raw["queue_message_id"]).first()
        if stored is not None:
            return stored
    return LeadDelivery.objects.get(lead_id=lead_id, body_sha256=raw["body_sha256"])


def process_lead(lead_id: uuid.UUID) -> int:
    """Apply the lead's unprocessed deliveries; a failure is recorded on them, not raised."""
    try:
        return _apply_unprocessed(lead_id)
    except Exception as exc:
        log.exception("Processing lead %s failed", lead_id)
        _record_failure(lead_id, exc)
        return 0


def process_leads(lead_ids: list[uuid.UUID]) -> int:
    """`process_lead` for several leads (those received within a moment of each other), in one
    transaction of a few statements for all: their deliveries claimed in one, their partners and
    products upserted in one, the new ones inserted in one, their histories in one. When any lead
    fails, or another worker inserted one of the new ones first, that transaction is rolled back
    and each lead is processed on its own: a failure is recorded on its lead's deliveries alone."""
    lead_ids = list(dict.fromkeys(lead_ids))
    if len(lead_ids) == 1:
        return process_lead(lead_ids[0])
    try:
        with transaction.atomic():
            return _apply_together(lead_ids)
    except Exception as exc:
        log.info(
            "Processing %d leads together failed (%s); processing each on its own.",
            len(lead_ids),
            type(exc).__name__,
        )
        return sum(process_lead(lead_id) for lead_id in lead_ids)


def _apply_together(lead_ids: list[uuid.UUID]) -> int:
    claimed = _claim_batch(lead_ids)
    batches: dict[uuid.UUID, list[LeadDelivery]] = {}
    for delivery in claimed:
        batches.setdefault(_uuid(delivery.lead_id), []).append(delivery)
    parsed = {lead_id: crf.parse(bytes(batch[-1].body)) for lead_id, batch in batches.items()}
    related = state.upsert_related((batches[lead][-1].id, p) for lead, p in parsed.items())
    values = {lead: state.lead_values(p, batches[lead][-1], related) for lead, p in parsed.items()}
    locked = {lead.id: lead for lead in _locked_leads(list(batches))}
    new = [Lead(**values[lead_id]) for lead_id in batches if lead_id not in locked]
    assignments = [assignment for assignment in ownership.route_all(new) if assignment]
    Lead.objects.bulk_create(new)  # a lead another worker inserted first: IntegrityError
    LeadAssignment.objects.bulk_create(assignments)
    history = [
        change
        for lead in new
        for change in state.status_history(lead.id, _history_of(batches[lead.id]))
    ]
    for lead in locked.values():
        history += _update(lead, values[lead.id], batches[lead.id])
    StatusChange.objects.bulk_create(history)
    return len(claimed)


def _apply_unprocessed(lead_id: uuid.UUID) -> int:
    """One transaction of a few statements: the batch claimed and read in one, each kind of
    partner and product upserted in one, the lead written once, its history continued
    (docs/contract.md#9-processing-retries-and-the-sweep). Rows are taken in one order on every
    path (deliveries, partners and products by key, the lead): two workers never wait on each
    other crosswise."""
    with transaction.atomic():
        batch = _claim_batch([lead_id])
        if not batch:  # nothing left: another worker got here first
            return 0
        newest = batch[-1]
        parsed = crf.parse(bytes(newest.body))
        values = state.lead_values(parsed, newest, state.upsert_related([(newest.id, parsed)]))
        lead = _locked_lead(lead_id)
        if lead is None:
            if _inserted(values):
                StatusChange.objects.bulk_create(state.status_history(lead_id, _history_of(batch)))
                return len(batch)
            lead = _locked_lead(lead_id)  # another worker's first delivery of it came first
        StatusChange.objects.bulk_create(_update(lead, values, batch))
    return len(batch)


def _inserted(values: dict) -> Lead | None:
    """A lead that just arrived, written once: its first state and the officer a rule routes it
    to. None when another worker inserted it first (that first delivery has committed; this
    batch is then an update of it, and the rule's turn taken here is skipped)."""
    lead = Lead(**values)
    assignment = ownership.route(lead)
    try:
        with transaction.atomic():
            lead.save(force_insert=True)
    except IntegrityError:
        if not Lead.objects.filter(pk=lead.pk).exists():
            raise  # not the key: a defect, recorded as the batch's failure
        return None
    if assignment:
        assignment.save()
    return lead


def _update(lead: Lead, values: dict, batch: list[LeadDelivery]) -> list[StatusChange]:
    """Write the newest delivery's state over the lead's; returns the status changes to add."""
    newest = batch[-1]
    applied = lead.applied_delivery_id or 0
    previous = lead.status if applied else ""
    fields = []
    # Deliveries apply in receipt (id) order: one received before the state the lead already
    # shows only adds to the history.
    if newest.id >= applied:
        for name, value in values.items():
            setattr(lead, name, value)
        # CRF's fields only: staff-owned ones (the assigned officer) are never written here.
        fields.extend(state.WRITTEN_FIELDS)
    assignment = ownership.route(lead) if not applied else None  # lead updates never route
    if assignment:
        fields.append("assigned_officer")
    if fields:
        lead.save(update_fields=fields)
    if assignment:
        assignment.save()
    if lead.disposition_id:
        # CRF shows what we wrote back: those write-backs are confirmed (never the other way
        # round: CRF's status stays what CRF said, the lender's disposition what staff set).
        dispositions.confirm(lead.id, {delivery.status for delivery in batch})
    if batch[0].id > applied:  # all newer than the state shown: the history goes on
        return state.status_history(lead.id, _history_of(batch), previous)
    _rebuild_history(lead)
    return []


# Takes a lead's unprocessed deliveries for the transaction that applies them, and reads them:
# rolled back with it when processing fails (then `_record_failure` marks them).
CLAIM_BATCH = f"""
    UPDATE {LeadDelivery._meta.db_table}
    SET outcome = %(processed)s, processed_at = %(now)s, error = '', next_attempt_at = NULL,
        attempts = attempts + 1, queued_at = NULL
    WHERE lead_id IN ({{leads}}) AND outcome IN (%(pending)s, %(failed)s)
    RETURNING id, lead_id, status, received_at, body
"""


def _claim_batch(lead_ids: list[uuid.UUID]) -> list[LeadDelivery]:
    """The unprocessed deliveries of these leads, claimed, in receipt order."""
    lead = LeadDelivery._meta.get_field("lead")
    values = {
        "processed": DeliveryOutcome.PROCESSED,
        "now": _db_time(timezone.now()),
        "pending": DeliveryOutcome.PENDING,
        "failed": DeliveryOutcome.FAILED,
        **{f"lead{n}": lead.get_db_prep_value(id, connection) for n, id in enumerate(lead_ids)},
    }
    leads = ", ".join(f"%(lead{n})s" for n in range(len(lead_ids)))
    claimed = LeadDelivery.objects.raw(CLAIM_BATCH.format(leads=leads), values)
    return sorted(claimed, key=attrgetter("id"))  # RETURNING keeps no order


def _history_of(deliveries: Iterable[LeadDelivery]) -> list[tuple[int, str, datetime]]:
    return [(delivery.id, delivery.status, delivery.received_at) for delivery in deliveries]


# What processing reads of a lead before it writes CRF's fields: the rest is written, not read.
LOCKED_FIELDS = ("id", "status", "applied_delivery", "assigned_officer", "disposition")


def _locked_lead(lead_id: uuid.UUID) -> Lead | None:
    """The lead's row, locked; None when it has none yet."""
    return next(iter(_locked_leads([lead_id])), None)


def _locked_leads(lead_ids: list[uuid.UUID]) -> QuerySet:
    """The rows these leads have, locked in key order (as every other path locks them)."""
    leads = Lead.objects.select_for_update().filter(id__in=lead_ids)
    return leads.order_by("id").only(*LOCKED_FIELDS)


def _rebuild_history(lead: Lead) -> None:
    """Make the status history match the processed deliveries, in receipt order: when a delivery
    older than the state shown was processed (late, or again)."""
    processed = lead.deliveries.filter(outcome=DeliveryOutcome.PROCESSED).order_by("id")
    history = state.status_history(lead.id, processed.values_list("id", "status", "received_at"))
    wanted = {change.delivery_id: change for change in history}
    have = {c.delivery_id: (c.from_status, c.to_status) for c in lead.status_changes.all()}
    stale = [
        d
        for d, change in have.items()
        if d not in wanted or change != (wanted[d].from_status, wanted[d].to_status)
    ]
    StatusChange.objects.filter(delivery_id__in=stale).delete()
    StatusChange.objects.bulk_create(
        [change for d, change in wanted.items() if d not in have or d in stale]
    )


def _record_failure(lead_id: uuid.UUID, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    now = timezone.now()
    for delivery in LeadDelivery.objects.filter(lead_id=lead_id, outcome__in=UNPROCESSED):
        attempts = delivery.attempts + 1
        retry_at = now + timedelta(minutes=2 ** (attempts - 1)) if attempts < MAX_ATTEMPTS else None
        # The claim goes too: the retry is the sweep's to queue when it is due.
        LeadDelivery.objects.filter(pk=delivery.pk).update(
            outcome=DeliveryOutcome.FAILED,
            error=error,
            attempts=attempts,
            next_attempt_at=retry_at,
            queued_at=None,
        )


_UNCLAIMED = "(queued_at IS NULL OR queued_at < %(stale)s)"
_PENDING = f"outcome = %(pending)s AND {_UNCLAIMED}"
_RETRY = f"outcome = %(failed)s AND next_attempt_at <= %(now)s AND {_UNCLAIMED}"
_TABLE = LeadDelivery._meta.db_table
# One statement claims, so two sweeps never queue the same delivery: each SELECT is served by its
# partial index (delivery_unqueued_idx, delivery_retry_idx), and the conditions are checked again
# on the rows the UPDATE locks. On PostgreSQL a row another sweep claimed (or a worker processed)
# after this statement's snapshot is re-read once that transaction commits, and left out; SQLite
# runs one writer at a time. RETURNING works on both (SQLite 3.35 and later).
CLAIM_DUE = f"""
    UPDATE {_TABLE} SET queued_at = %(now)s
    WHERE id IN (
        SELECT id FROM (SELECT id FROM {_TABLE} WHERE {_PENDING} LIMIT %(limit)s) AS pending
        UNION ALL
        SELECT id FROM (SELECT id FROM {_TABLE} WHERE {_RETRY} LIMIT %(limit)s) AS retry
    )
    AND (({_PENDING}) OR ({_RETRY}))
    RETURNING lead_id
"""


def queue_due_leads(limit: int = SWEEP_LIMIT) -> int:
    """Queue, once, each lead with a delivery due: pending or failed and due a retry, and not
    queued already (see `claim_due_leads`). Returns how many leads were queued."""
    claimed_at = timezone.now()
    return _publish_claimed(claim_due_leads(claimed_at, limit), claimed_at)


def claim_due_leads(now: datetime, limit: int = SWEEP_LIMIT) -> list[uuid.UUID]:
    """Claim up to `limit` due deliveries for tasks about to be published; returns their leads.

    Due: pending, or failed and due another attempt, and not claimed (queued_at), or claimed so
    long ago that the message must be lost (settings.LEAD_REQUEUE_SECONDS). What was the grace
    for a fresh delivery is this timeout now: the intake claims a delivery as it stores it, so
    the sweep never races a fresh one's task, and takes one whose publish failed at once.
    """
    values = {
        "now": _db_time(now),
        "limit": limit,
        "pending": DeliveryOutcome.PENDING,
        "failed": DeliveryOutcome.FAILED,
        "stale": _db_time(now - timedelta(seconds=settings.LEAD_REQUEUE_SECONDS)),
    }
    with connection.cursor() as cursor:
        cursor.execute(CLAIM_DUE, values)
        claimed = [row[0] for row in cursor.fetchall()]
    return list(dict.fromkeys(_uuid(lead_id) for lead_id in claimed))


def _db_time(moment: datetime):
    return connection.ops.adapt_datetimefield_value(moment)


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)  # SQLite: 32 hex digits


def _publish_claimed(lead_ids: list[uuid.UUID], claimed_at: datetime) -> int:
    calls = [(str(lead_id),) for lead_id in lead_ids]
    published = publish_each(PROCESS_TASK, calls)
    _release(lead_ids[published:], claimed_at)
    return published


def _release(lead_ids: list[uuid.UUID], claimed_at: datetime) -> None:
    """Give back claims whose task the broker did not take: the next sweep queues them at once.
    Only these claims: one made since (a delivery received meanwhile, queued) stays."""
    if lead_ids:
        claims = LeadDelivery.objects.filter(lead_id__in=lead_ids, queued_at=claimed_at)
        claims.update(queued_at=None)


@dataclass(frozen=True)
class Reprocessed:
    """What a reprocessing did, for the admin's message and the command's summary."""

    leads: int  # leads queued, or processed here
    rejected: int  # rejected deliveries skipped: their bodies are not leads
    deliveries: int | None = None  # deliveries processed here; None when queued for the workers
    still_failed: int | None = None  # of those chosen, failed again here; None when queued


Progress = Callable[[list[uuid.UUID]], Iterable[uuid.UUID]]


def reprocess(deliveries: QuerySet, *, now: bool, progress: Progress = iter) -> Reprocessed:
    """Process stored deliveries again (docs/contract.md#reprocessing), the admin's and the
    command's way alike: rejected ones are skipped, the rest get a fresh set of attempts.

    `now`: their leads are processed in this process, one after another through `progress` (the
    command's progress bar). Otherwise they are queued for the workers once the current
    transaction commits (with the broker down, the sweep queues them later).
    """
    rejected = deliveries.filter(outcome=DeliveryOutcome.REJECTED).count()
    lead_ids = _mark_for_reprocessing(deliveries)
    if not now:
        queue_leads(lead_ids)
        return Reprocessed(len(lead_ids), rejected)
    processed = sum(process_lead(lead_id) for lead_id in progress(lead_ids))
    still_failed = deliveries.filter(outcome=DeliveryOutcome.FAILED).count()
    return Reprocessed(len(lead_ids), rejected, processed, still_failed)


def _mark_for_reprocessing(deliveries: QuerySet) -> list[uuid.UUID]:
    """Mark stored deliveries to be processed again; returns their leads. Rejected ones are skipped.

    A person asking again gives the deliveries a fresh set of automatic retries. They are claimed
    for the caller, who processes or queues them next: the sweep does not queue them meanwhile.
    """
    deliveries = deliveries.exclude(outcome=DeliveryOutcome.REJECTED).exclude(lead_id=None)
    lead_ids = list(deliveries.order_by().values_list("lead_id", flat=True).distinct())
    deliveries.update(
        outcome=DeliveryOutcome.PENDING,
        error="",
        next_attempt_at=None,
        attempts=0,
        queued_at=timezone.now(),
    )
    return lead_ids


def queue_leads(lead_ids: list[uuid.UUID]) -> None:
    """Queue these leads (a person asked), once the current transaction commits. Their unprocessed
    deliveries are claimed for the tasks, and given back if the broker does not take them."""
    claimed_at = timezone.now()
    LeadDelivery.objects.filter(lead_id__in=lead_ids, outcome__in=UNPROCESSED).update(
        queued_at=claimed_at
    )
    transaction.on_commit(partial(_publish_claimed, list(lead_ids), claimed_at), robust=True)


def delivery_backlog() -> dict:
    """Counts for /healthz/ (partial indexes keep these cheap however many deliveries there are)."""
    pending = LeadDelivery.objects.filter(outcome=DeliveryOutcome.PENDING)
    oldest = pending.order_by("received_at").values_list("received_at", flat=True).first()
    return {
        "pending": pending.count(),
        "oldest_pending_seconds": int((timezone.now() - oldest).total_seconds()) if oldest else 0,
        "failed": LeadDelivery.objects.filter(outcome=DeliveryOutcome.FAILED).count(),
    }
