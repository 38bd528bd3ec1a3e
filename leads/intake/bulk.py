"""The bulk import: many deliveries stored and applied a batch per transaction (generated data,
backfills of a million leads), leaving the rows `receive_lead` then `process_lead` would leave."""

import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from operator import attrgetter

from django.db import transaction
from django.utils import timezone

from leadcrm import bulk
from leads.choices import DeliveryOutcome
from leads.models import Lead, LeadDelivery, StatusChange

from . import crf, state
from .services import _raw


def import_leads(
    deliveries: Iterable[tuple[bytes, datetime]],
    *,
    source: str,
    headers: dict | None = None,
    batch_size: int = 10_000,
) -> Iterator[int]:
    """Store and apply many deliveries, given in receipt order, a batch per transaction.

    The rows are those `receive_lead` then `process_lead` would leave for the same deliveries one
    at a time (deliveries, applied state, status history), in a few statements per batch instead
    of a dozen per delivery: for generated data and backfills of a million leads. Nothing is
    queued, so no worker may be processing the same leads meanwhile. Yields each batch's size.
    """
    remaining = iter(deliveries)
    while batch := tuple(itertools.islice(remaining, batch_size)):
        _import_batch(batch, source, headers or {})
        yield len(batch)


# A delivery as read: its raw row, the lead in it (None if it cannot be one) and why not.
Read = tuple[dict, crf.ParsedLead | None, str]


def _import_batch(batch: tuple[tuple[bytes, datetime], ...], source: str, headers: dict) -> None:
    received = _read(batch, headers)
    _drop_stored(received)
    now = timezone.now()
    with transaction.atomic():
        deliveries = [(_delivery(*read, source, now), read[1]) for read in received.values()]
        bulk.insert(LeadDelivery, [delivery for delivery, _ in deliveries])
        _import_leads([(delivery, parsed) for delivery, parsed in deliveries if parsed])


def _read(batch: tuple[tuple[bytes, datetime], ...], headers: dict) -> dict[tuple, Read]:
    """The batch read, by lead and body hash: the same bytes twice are stored once."""
    received: dict[tuple, Read] = {}
    for body, received_at in batch:
        raw = _raw(body, headers, received_at)
        parsed, error = _parse(body)
        key = (parsed.id, raw["body_sha256"]) if parsed else (None, len(received))
        received.setdefault(key, (raw, parsed, error))
    return received


def _parse(body: bytes) -> tuple[crf.ParsedLead | None, str]:
    try:
        return crf.parse(body), ""
    except crf.InvalidLead as exc:
        return None, exc.detail


def _drop_stored(received: dict[tuple, Read]) -> None:
    """Leave out what is stored already (delivery_lead_body_uniq): a second import adds nothing."""
    keys = [key for key in received if key[0]]
    stored = LeadDelivery.objects.filter(
        lead_id__in={lead_id for lead_id, _ in keys}, body_sha256__in={sha for _, sha in keys}
    ).values_list("lead_id", "body_sha256")
    for key in stored:
        received.pop(key, None)


def _delivery(
    raw: dict, parsed: crf.ParsedLead | None, error: str, source: str, now: datetime
) -> LeadDelivery:
    """The row `receive_lead` stores, as `process_lead` leaves it (or as rejected)."""
    if parsed is None:
        return LeadDelivery(**raw, source=source, outcome=DeliveryOutcome.REJECTED, error=error)
    return LeadDelivery(
        **raw,
        source=source,
        lead_id=parsed.id,
        status=parsed.status,
        warnings=parsed.problems,
        outcome=DeliveryOutcome.PROCESSED,
        processed_at=now,
        attempts=1,
    )


def _import_leads(applied: list[tuple[LeadDelivery, crf.ParsedLead]]) -> None:
    """The newest state of each lead, and its status changes, for deliveries just stored."""
    newest = {parsed.id: (delivery, parsed) for delivery, parsed in applied}
    # A handful of partners and products per batch, each with the values of its newest delivery.
    related = state.upsert_related((delivery.id, parsed) for delivery, parsed in newest.values())
    leads = [Lead(**state.lead_values(parsed, d, related)) for d, parsed in newest.values()]
    previous = dict(Lead.objects.filter(id__in=newest).values_list("id", "status"))
    _write_leads(leads, previous)
    bulk.insert(StatusChange, _status_changes(applied, previous))


def _write_leads(leads: list[Lead], existing: dict) -> None:
    """New leads by COPY; those that exist in one upsert of CRF's fields (staff's stay theirs)."""
    bulk.insert(Lead, [lead for lead in leads if lead.id not in existing])
    Lead.objects.bulk_create(
        [lead for lead in leads if lead.id in existing],
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=state.WRITTEN_FIELDS,
    )


def _status_changes(
    applied: list[tuple[LeadDelivery, crf.ParsedLead]], previous: dict
) -> list[StatusChange]:
    """Each lead's history continued from the status it had before this batch."""
    received: dict[uuid.UUID, list] = defaultdict(list)
    for delivery, parsed in applied:
        received[parsed.id].append((delivery.id, parsed.status, delivery.received_at))
    changes = [
        change
        for lead_id, deliveries in received.items()
        for change in state.status_history(lead_id, deliveries, previous.get(lead_id, ""))
    ]
    # In receipt order, across leads: the rows are numbered as processing would number them.
    return sorted(changes, key=attrgetter("delivery_id"))
