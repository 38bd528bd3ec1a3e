"""On PostgreSQL, an index serves every list filter and the text search (no full scans)."""

import pytest
from django.db import connection
from django.test import RequestFactory

from leads.admin.leads import LeadAdmin
from leads.models import Lead

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SET LOCAL enable_seqscan = off"
        )  # a handful of rows: make the planner show its index
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_admin_text_search_uses_the_trigram_indexes(admin_user):
    from django.contrib import admin

    request = RequestFactory().get("/admin/leads/lead/", {"q": "acme bakery"})
    request.user = admin_user
    results, _ = LeadAdmin(Lead, admin.site).get_search_results(
        request, Lead.objects.all(), "acme bakery"
    )

    # Counting the matches (the paginator) reads the one trigram index; the page itself, newest
    # first, may instead walk lead_created_idx: neither reads the whole table.
    counted = plan(results.order_by())
    assert "lead_search_trgm" in counted, counted
    assert "Seq Scan" not in counted + plan(results)


@pytest.mark.parametrize(
    "lookup",
    [
        {"status": "Funded"},
        {"state": "Removed"},
        {"address_state": "Iowa"},
        {"industry": "Mining"},
        {"fico_score": "Below580"},
        {"use_of_proceeds": "Other"},
        {"years_in_business": "Startup"},
        {"cra_eligible_tract": True},
        {"is_cdfi_investment_area": True},
        {"matched_product_id": 1},
        {"product_set_id": 1},
        {"lead_source_id": 1},
        {"service_partner_id": 1},
        {"duplicate_id": "x"},
        {"fraud_score__gte": 0.85},
        {"date_created__gte": "2026-01-01"},
        {"email__iexact": "ann@bakery.example"},
        {"phone": "612-555-0199"},
    ],
)
def test_each_list_filter_is_served_by_an_index(lookup):
    explained = plan(Lead.objects.filter(**lookup).order_by("-date_created")[:100])
    assert "Index" in explained and "Seq Scan" not in explained, explained


def test_long_lists_show_an_estimated_count_and_short_ones_an_exact_one(
    client, admin_user, monkeypatch, sample_lead
):
    import json
    import uuid

    from django.utils import timezone

    from leadcrm.admin import EstimatedCountPaginator
    from leads.intake import bulk

    monkeypatch.setattr(EstimatedCountPaginator, "ESTIMATE_ABOVE", 5)
    leads = [
        {**sample_lead, "id": str(uuid.uuid4()), "status": "Funded" if n < 2 else "Matched"}
        for n in range(9)
    ]
    list(
        bulk.import_leads(
            [(json.dumps(lead).encode(), timezone.now()) for lead in leads], source="demo"
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_lead")
    client.force_login(admin_user)
    queries = []

    with connection.execute_wrapper(
        lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)
    ):
        everything = client.get("/admin/leads/lead/").text
    funded = client.get("/admin/leads/lead/", {"status__exact": "Funded"}).text

    assert "about 9 leads" in " ".join(everything.split())  # the planner's estimate after ANALYZE
    assert "\n2 leads" in funded and "about" not in funded.split('class="paginator"')[1]
    counts = [sql for sql in queries if "COUNT(" in sql.upper()]
    assert counts and all("LIMIT 6" in sql for sql in counts), counts  # never a count of every row


def test_the_business_state_choices_skip_through_their_index(add_lead):
    from leads.admin.leads import BusinessStateFilter

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + BusinessStateFilter.STATES_SQL)
        explained = "\n".join(row[0] for row in cursor.fetchall())
    assert "lead_addr_state_created_idx" in explained and "Seq Scan" not in explained, explained


@pytest.mark.parametrize("role", ["Loan officer", "Lending manager"])
def test_the_data_problems_filter_is_served_by_its_partial_indexes(login, role):
    from leads.admin.leads import DataProblemsFilter

    request = RequestFactory().get("/admin/leads/lead/", {"problems": "yes"})
    request.user = login(role)
    condition = DataProblemsFilter(request, {"problems": ["yes"]}, Lead, None).presence(request)

    explained = plan(Lead.objects.filter(condition).order_by("-date_created")[:100])
    index = "lead_any_problems_idx" if role == "Lending manager" else "lead_problems_idx"
    assert index in explained and "Seq Scan" not in explained, explained
