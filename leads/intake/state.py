"""The state a lead's deliveries leave: its fields, its partners and products, its status history.

Decided here once, for processing one lead at a time (`services.process_lead`) and for the bulk
import (`bulk.import_leads`) alike, so that both leave the same rows
(docs/contract.md#5-crf-lead-intake); they differ only in how they lock and write them.
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection

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
    each with the values of the newest delivery naming it; returns them by `_related_key`.

    One statement on PostgreSQL (one per model elsewhere), whatever the number of rows or whether
    they exist."""
    newest: dict[tuple[str, str], tuple[type[CRFKeyed], crf.Related, int]] = {}
    for delivery_id, parsed in applied:
        for fk, ref in parsed.related.items():
            if ref is None:
                continue
            key = _related_key(fk, ref)
            if key not in newest or newest[key][2] < delivery_id:
                newest[key] = (crf.RELATED_MODELS[fk], ref, delivery_id)
    # Sorted by model and CRF key: transactions side by side, whichever path they take, lock the
    # rows in one order and never wait on each other's rows crosswise.
    by_model: dict[type[CRFKeyed], list[tuple[crf.Related, int]]] = {}
    for key in sorted(newest):
        model, ref, delivery_id = newest[key]
        by_model.setdefault(model, []).append((ref, delivery_id))
    upserts = [
        [model(**ref.values, crf_key=ref.key, source_delivery_id=d) for ref, d in refs]
        for model, refs in by_model.items()
    ]
    _upsert(upserts)
    return {(obj._meta.label, obj.crf_key): obj for objs in upserts for obj in objs}


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


def _upsert(upserts: list[list[CRFKeyed]]) -> None:
    """INSERT … ON CONFLICT DO UPDATE of each list of new rows of one model, giving each its
    primary key. On PostgreSQL the INSERTs are the parts of one WITH statement, read one after
    the other, so rows are still locked model by model and key by key."""
    statements = [_upsert_sql(objs) for objs in upserts if objs]
    if connection.vendor == "postgresql" and len(statements) > 1:
        parts = ", ".join(f"u{n} AS ({sql})" for n, (sql, _) in enumerate(statements))
        reads = " UNION ALL ".join(
            f"SELECT {n}, id, crf_key FROM u{n}" for n in range(len(statements))
        )
        statements = [(f"WITH {parts} {reads}", [p for _, params in statements for p in params])]
    else:
        statements = [
            (sql.replace("RETURNING", f"RETURNING {n},", 1), params)
            for n, (sql, params) in enumerate(statements)
        ]
    keys = {}
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            keys.update(((n, crf_key), pk) for n, pk, crf_key in cursor.fetchall())
    for n, objs in enumerate(o for o in upserts if o):
        for obj in objs:
            obj.pk = keys[n, obj.crf_key]
            obj._state.adding = False


def _upsert_sql(objs: list[CRFKeyed]) -> tuple[str, list]:
    """The upsert of new rows of one model, returning their keys. A row keeps the values it has
    when they came from a newer delivery: an older delivery processed late never overwrites them
    (the row is still updated, to itself, so that it is returned)."""
    meta = objs[0]._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    newer = f"{table}.source_delivery_id < excluded.source_delivery_id"
    updates = ", ".join(
        f"{quote(f.column)} = CASE WHEN {newer} THEN excluded.{quote(f.column)} "
        f"ELSE {table}.{quote(f.column)} END"
        for f in fields
        if f.name != "crf_key"
    )
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * len(objs))} "
        f"ON CONFLICT (crf_key) DO UPDATE SET {updates} RETURNING id, crf_key"
    )
    params = [
        f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs for f in fields
    ]
    return sql, params
