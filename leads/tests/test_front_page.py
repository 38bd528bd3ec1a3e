"""The admin's front page is the day's work (leads.worklist, alerts.worklist)."""

import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alerts.models import CRSUser
from leads.models import Lead
from leads.ownership import services

pytestmark = pytest.mark.django_db


def test_an_officer_sees_their_day_each_row_a_link(client, login, add_lead):
    officer = login("Loan officer")
    created = (timezone.now() - timedelta(hours=30)).isoformat()
    late = add_lead(dateCreated=created, nameOfBusiness="Late Bakery")
    services.assign(Lead.objects.filter(pk=late), officer, by=None)
    page = client.get(reverse("admin:index")).content.decode()
    assert "First contact overdue (over 24 h)" in page
    assert f'href="{reverse("admin:leads_lead_change", args=[late])}">Late Bakery' in page
    assert "?officer=me&amp;contact=overdue" in page
    assert 'id="worklist-team"' not in page  # the team is the managers'


def test_a_manager_sees_the_team_and_the_unassigned(client, login, add_lead):
    login("Lending manager")
    add_lead(nameOfBusiness="Nobody's Diner")
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="worklist-team"' in page and 'id="worklist-unassigned"' in page
    assert "Nobody&#x27;s Diner" in page


def test_credit_alerts_on_my_leads(client, login, add_lead, post_alerts, sample_batch):
    officer = login("Loan officer")
    lead_id = add_lead()
    services.assign(Lead.objects.filter(pk=lead_id), officer, by=None)
    item = sample_batch[0]
    CRSUser.objects.create(id=uuid.UUID(item["user_id"]), lead_id=lead_id, name="Bob")
    item["time"] = int(timezone.now().timestamp())
    assert post_alerts([item]).status_code == 200
    page = client.get(reverse("admin:index")).content.decode()
    assert "Credit alerts on your leads" in page
    assert reverse("admin:leads_lead_change", args=[lead_id]) in page


def test_the_front_page_costs_the_same_with_more_leads(client, login, add_lead):
    officer = login("Lending manager")

    def queries() -> int:
        cache.clear()  # the team's numbers computed again, not read from the cache
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("admin:index")).status_code == 200
        return len(captured)

    services.assign(Lead.objects.filter(pk=add_lead()), officer, by=None)
    first = queries()
    for _ in range(5):
        services.assign(Lead.objects.filter(pk=add_lead()), officer, by=None)
    assert queries() == first


def test_the_team_numbers_are_cached_for_a_few_minutes(client, login, add_lead):
    manager = login("Lending manager")
    services.assign(Lead.objects.filter(pk=add_lead()), manager, by=None)
    client.get(reverse("admin:index"))
    with CaptureQueriesContext(connection) as cached:
        client.get(reverse("admin:index"))
    cache.clear()
    with CaptureQueriesContext(connection) as computed:
        client.get(reverse("admin:index"))
    assert len(computed) - len(cached) == 5  # the team's four GROUP BYs and its officers
