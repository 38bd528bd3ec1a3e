"""The sweep's claim on PostgreSQL: two sweeps at once, and the indexes it reads."""

import hashlib
import threading
import time
import uuid

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from leads.intake import services
from leads.models import LeadDelivery

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def unqueued_deliveries(count: int) -> list[uuid.UUID]:
    """Pending deliveries of as many leads, not queued (as after publishes the broker refused)."""
    lead_ids = [uuid.uuid4() for _ in range(count)]
    LeadDelivery.objects.bulk_create(
        LeadDelivery(
            body=b"{}",
            body_sha256=hashlib.sha256(lead_id.bytes).hexdigest(),
            lead_id=lead_id,
            received_at=timezone.now(),
        )
        for lead_id in lead_ids
    )
    return lead_ids


def waits_for_a_lock(thread: threading.Thread) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else read once per transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return thread.is_alive() and cursor.fetchone()[0] > 0


def test_a_sweep_running_alongside_another_claims_none_of_the_leads_the_first_claimed():
    lead_ids = unqueued_deliveries(50)
    second: list[uuid.UUID] = []

    def sweep_alongside() -> None:
        try:
            second.extend(services.claim_due_leads(timezone.now()))
        finally:
            connections.close_all()

    with transaction.atomic():
        first = services.claim_due_leads(timezone.now())
        alongside = threading.Thread(target=sweep_alongside)
        alongside.start()
        deadline = time.monotonic() + 10
        while not waits_for_a_lock(alongside) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waits_for_a_lock(alongside), "the second sweep should wait for the first's claims"
    alongside.join(timeout=10)

    assert sorted(first) == sorted(lead_ids)
    assert second == []


def test_a_sweep_running_alongside_processing_leaves_the_processed_deliveries_alone():
    lead_ids = unqueued_deliveries(5)
    claimed: list[uuid.UUID] = []

    def sweep_alongside() -> None:
        try:
            claimed.extend(services.claim_due_leads(timezone.now()))
        finally:
            connections.close_all()

    with transaction.atomic():
        # What processing does to its batch, inside its transaction.
        LeadDelivery.objects.filter(lead_id__in=lead_ids[:3]).update(
            outcome="processed", queued_at=None
        )
        alongside = threading.Thread(target=sweep_alongside)
        alongside.start()
        deadline = time.monotonic() + 10
        while not waits_for_a_lock(alongside) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waits_for_a_lock(alongside), "the sweep should wait for the processed rows"
    alongside.join(timeout=10)

    assert sorted(claimed) == sorted(lead_ids[3:])


def test_the_sweeps_claim_reads_its_partial_indexes():
    unqueued_deliveries(3)
    now = timezone.now()
    values = {"now": now, "stale": now, "limit": 100, "pending": "pending", "failed": "failed"}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a handful of rows: show the indexes
        cursor.execute("EXPLAIN " + services.CLAIM_DUE, values)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "delivery_unqueued_idx" in plan and "delivery_retry_idx" in plan, plan
    assert "Seq Scan" not in plan, plan
