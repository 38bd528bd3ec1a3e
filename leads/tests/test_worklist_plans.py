"""On PostgreSQL, each worklist panel and ownership filter reads its partial index."""

import pytest
from django.db.models import Count

from leads.models import OPEN, Lead
from leads.ownership import worklist
from tests.test_search_indexes import plan

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.mark.parametrize(
    ("name", "queryset", "index"),
    [
        (
            "my untouched leads",
            lambda me: worklist.untouched(Lead.objects.filter(assigned_officer=me)).order_by(
                "-date_created"
            ),
            "lead_officer_untouched_idx",
        ),
        (
            "my overdue first contacts",
            lambda me: worklist.overdue(Lead.objects.filter(assigned_officer=me)).order_by(
                "date_created"
            ),
            "lead_officer_untouched_idx",
        ),
        (
            "my follow-ups due",
            lambda me: worklist.follow_ups_due(Lead.objects.filter(assigned_officer=me)).order_by(
                "next_action_at"
            ),
            "lead_officer_next_action_idx",
        ),
        (
            "untouched, everyone's",
            lambda me: worklist.untouched().order_by("date_created"),
            "lead_untouched_idx",
        ),
        (
            "unassigned open leads",
            lambda me: Lead.objects.filter(OPEN, assigned_officer=None).order_by("date_created"),
            "lead_unassigned_idx",
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
            "lead_officer_open_idx",
        ),
    ],
)
def test_each_worklist_query_reads_its_index(name, queryset, index, admin_user):
    shown = plan(queryset(admin_user)[: worklist.SHOWN + 1])
    assert index in shown, shown
    assert "Seq Scan" not in shown, shown
