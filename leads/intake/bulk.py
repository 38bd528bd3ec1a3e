"""The bulk import: many deliveries stored and applied a batch per transaction (generated data,
backfills of a million leads), leaving the rows `receive_lead` then `process_lead` would leave."""

import itertools
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from leadcrm import bulk
from leads.choices import DeliveryOutcome
from leads.models import Lead, LeadDelivery, StatusChange

from . import crf
from .services import CRF_BOOKKEEPING, _raw, _upsert_related


def import_leads(
    deliveries: Iterable[tuple[bytes, datetime]], *, source: str, headers: dict | None = None,
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


def _import_batch(batch: tuple[tuple[bytes, datetime], ...], source: str, headers: dict) -> None:
    now = timezone.now()
    received: dict[tuple, tuple[dict, crf.ParsedLead | None, str]] = {}
    for body, received_at in batch:
        raw = _raw(body, headers, received_at)
        try:
            parsed, error = crf.parse(body), ""
        except crf.InvalidLead as exc:
            parsed, error = None, exc.detail
        key = (parsed.id, raw["body_sha256"]) if parsed else (None, len(received))
        received.setdefault(key, (raw, parsed, error))  # the same bytes twice: stored once
    stored = LeadDelivery.objects.filter(
        lead_id__in={lead_id for lead_id, _ in received if lead_id},
        body_sha256__in={sha for lead_id, sha in received if lead_id},
    ).values_list("lead_id", "body_sha256")
    for key in stored:
        received.pop(key, None)
    with transaction.atomic():
        deliveries = [
            LeadDelivery(**raw, source=source, lead_id=parsed.id, status=parsed.status,
                         warnings=parsed.problems, outcome=DeliveryOutcome.PROCESSED,
                         processed_at=now, attempts=1)
            if parsed else
            LeadDelivery(**raw, source=source, outcome=DeliveryOutcome.REJECTED, error=error)
            for raw, parsed, error in received.values()
        ]
        bulk.insert(LeadDelivery, deliveries)
        applied = [(d, parsed) for d, (_, parsed, _) in zip(deliveries, received.values()) if parsed]
        _import_leads(applied)


def _import_leads(applied: list[tuple[LeadDelivery, crf.ParsedLead]]) -> None:
    """The newest state of each lead, and its status changes, for deliveries just stored."""
    newest = {parsed.id: (delivery, parsed) for delivery, parsed in applied}
    # A handful of partners and products per batch, each with the values of its newest delivery.
    refs: dict[tuple[str, str], tuple[type, crf.Related, int]] = {}
    for delivery, parsed in newest.values():
        for fk, ref in parsed.related.items():
            if ref is None:
                continue
            model = crf.RELATED_MODELS[fk]
            key = (model._meta.label, ref.key)
            if key not in refs or refs[key][2] < delivery.id:
                refs[key] = (model, ref, delivery.id)
    # In one order, so that importers side by side never wait on each other's rows crosswise.
    related = {key: _upsert_related(*refs[key]) for key in sorted(refs)}
    leads = []
    for delivery, parsed in newest.values():
        lead = Lead(**parsed.values, **parsed.bookkeeping(), applied_delivery=delivery)
        for fk, ref in parsed.related.items():
            model = crf.RELATED_MODELS[fk]
            setattr(lead, fk, related[model._meta.label, ref.key] if ref else None)
        leads.append(lead)
    previous = dict(Lead.objects.filter(id__in=newest).values_list("id", "status"))
    crf_fields = [name for _, name in crf.LEAD_FIELDS if name != "id"]
    bulk.insert(Lead, [lead for lead in leads if lead.id not in previous])
    Lead.objects.bulk_create(
        [lead for lead in leads if lead.id in previous], update_conflicts=True,
        unique_fields=["id"], update_fields=[*crf_fields, *crf.RELATED_FOREIGN_KEYS, *CRF_BOOKKEEPING],
    )
    changes = []
    for delivery, parsed in applied:
        if parsed.status != previous.get(parsed.id, ""):
            changes.append(StatusChange(
                lead_id=parsed.id, delivery=delivery, from_status=previous.get(parsed.id, ""),
                to_status=parsed.status, changed_at=delivery.received_at,
            ))
        previous[parsed.id] = parsed.status
    bulk.insert(StatusChange, changes)
