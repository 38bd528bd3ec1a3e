"""The state a lead's deliveries leave: its fields, its partners and products, its status history.

Decided here once, for processing one lead at a time (`services.process_lead`) and for the bulk
import (`bulk.import_leads`) alike, so that both leave the same rows
(docs/contract.md#5-crf-lead-intake); they differ only in how they lock and write them.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from leads.models import CRFKeyed, Lead, LeadDelivery, StatusChange

from . import crf

# Lead fields no delivery writes: the key (the row has it already), what staff own, and when the
# row was first written. Every other field is CRF's: built by `lead_values`, or by the clock.
NOT_WRITTEN = frozenset(
    {"id", "assigned_officer", "disposition", "first_contact_at", "next_action_at", "first_seen_at"}
)
# What processing saves and the bulk import upserts (`updated_at` sets itself as the row is
# written). Taken from the model, so a new field is written by both, or fails the tests.
WRITTEN_FIELDS = tuple(
    field.name for field in Lead._meta.concrete_fields if field.name not in NOT_WRITTEN
)

RelatedRows = dict[tuple[str, str], CRFKeyed]


def lead_values(
    parsed: crf.ParsedLead, delivery: LeadDelivery, related: RelatedRows
) -> dict[str, Any]:
    """Every Lead field the delivery sets, its key included: CRF's values, the partners and
    products (from `related`, as `upsert_related` returned them) and the bookkeeping."""
    return {
        **parsed.values,
        **{
            fk: related[_related_key(fk, ref)] if ref else None
            for fk, ref in parsed.related.items()
        },
        **parsed.bookkeeping(),
        "applied_delivery": delivery,
    }


def upsert_related(applied: Iterable[tuple[int, crf.ParsedLead]]) -> RelatedRows:
    """Create or update the partners, products and product sets these (delivery id, lead) name,
    each with the values of the newest delivery naming it; returns them by `_related_key`."""
    newest: dict[tuple[str, str], tuple[type[CRFKeyed], crf.Related, int]] = {}
    for delivery_id, parsed in applied:
        for fk, ref in parsed.related.items():
            if ref is None:
                continue
            key = _related_key(fk, ref)
            if key not in newest or newest[key][2] < delivery_id:
                newest[key] = (crf.RELATED_MODELS[fk], ref, delivery_id)
    # Sorted by model and CRF key: transactions side by side, whichever path they take, never wait
    # on each other's rows crosswise.
    return {key: _upsert(*newest[key]) for key in sorted(newest)}


def status_history(
    lead_id: uuid.UUID, deliveries: Iterable[tuple[int, str, datetime]], previous: str = ""
) -> list[StatusChange]:
    """The status changes a lead's deliveries make, given as (id, status, received_at) in receipt
    order, from the status the lead had before them."""
    changes = []
    for delivery_id, status, received_at in deliveries:
        if status != previous:
            changes.append(
                StatusChange(
                    lead_id=lead_id,
                    delivery_id=delivery_id,
                    from_status=previous,
                    to_status=status,
                    changed_at=received_at,
                )
            )
        previous = status
    return changes


def _related_key(fk: str, ref: crf.Related) -> tuple[str, str]:
    return crf.RELATED_MODELS[fk]._meta.label, ref.key


def _upsert(model: type[CRFKeyed], ref: crf.Related, delivery_id: int) -> CRFKeyed:
    obj, created = model.objects.get_or_create(
        crf_key=ref.key, defaults={**ref.values, "source_delivery_id": delivery_id}
    )
    if not created and obj.source_delivery_id < delivery_id:
        # Conditional, so an older delivery processed late never overwrites newer values.
        model.objects.filter(pk=obj.pk, source_delivery_id__lt=delivery_id).update(
            **ref.values, source_delivery_id=delivery_id
        )
    return obj
