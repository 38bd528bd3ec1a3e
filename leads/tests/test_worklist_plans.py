"""On PostgreSQL, each worklist panel and ownership filter reads a partial index."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from leads.models import OPEN, Lead
from leads.ownership import worklist
from tests.test_search_indexes import plan

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def many_worked_leads(officer) -> None:
    """Statistics like a real book's: most of an officer's leads contacted and closed, a few
    untouched or with a follow-up, many unassigned; the planner then costs the indexes as it
    would on a big table (an empty one can make any of them look as cheap)."""
    now = timezone.now()
    leads = []
    for n in range(3000):
        mine = n % 20 == 0  # one officer of twenty
        leads.append(
            Lead(
                id=uuid.uuid4(),
                date_created=now - timedelta(hours=n),
                status="Funded" if n % 3 else "Matched",
                assigned_officer=officer if mine else None,
                first_contact_at=None if n % 3 == 0 else now,
                next_action_at=now if n % 7 == 0 else None,
            )
        )
    Lead.objects.bulk_create(leads)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Lead._meta.db_table}")


@pytest.mark.parametrize(
    ("name", "queryset", "indexes"),
    [
        (
            "my untouched leads",
            lambda me: worklist.untouched(Lead.objects.filter(assigned_officer=me)).order_by(
                "-date_created"
            ),
            {"lead_officer_untouched_idx", "lead_untouched_idx", "lead_officer_open_idx"},
        ),
        (
            "my overdue first contacts",
            lambda me: worklist.overdue(Lead.objects.filter(assigned_officer=me)).order_by(
                "date_created"
            ),
            {"lead_officer_untouched_idx", "lead_untouched_idx", "lead_officer_open_idx"},
        ),
        (
            "my follow-ups due",
            lambda me: worklist.follow_ups_due(Lead.objects.filter(assigned_officer=me)).order_by(
                "next_action_at"
            ),
            {"lead_officer_next_action_idx", "lead_next_action_idx"},
        ),
        (
            "untouched, everyone's",
            lambda me: worklist.untouched().order_by("date_created"),
            {"lead_untouched_idx"},
        ),
        (
            "unassigned open leads",
            lambda me: Lead.objects.filter(OPEN, assigned_officer=None).order_by("date_created"),
            {"lead_unassigned_idx"},
        ),
        (
            "open leads per officer",
            lambda me: (
                Lead.objects.exclude(assigned_officer=None)
                .filter(OPEN)
                .values("assigned_officer")
                .annotate(leads=Count("pk"))
                .order_by()
            ),
            {"lead_officer_open_idx"},
        ),
    ],
)
def test_each_worklist_query_reads_its_index(name, queryset, indexes, admin_user):
    many_worked_leads(admin_user)
    shown = plan(queryset(admin_user)[: worklist.SHOWN + 1])
    # A partial index of its own, or the wider one of the same condition (the planner's choice
    # by the officer's share); never the whole table, nor an index read past most of its rows.
    assert any(index in shown for index in indexes), shown
    assert "Seq Scan" not in shown, shown
