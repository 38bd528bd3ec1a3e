"""The fair-lending firewall (leads.firewall), tried as a hostile loan officer would: ownership
demographics, and whatever is derived from them, reach no one without the permission — not as a
value, a count or a set of rows, through any lookup, search, export, problem or unknown key."""

import csv
import io
import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from leads.models import Lead

pytestmark = pytest.mark.django_db

LEADS = reverse("admin:leads_lead_changelist")
EXPORT = reverse("admin:leads_lead_export")

# Each selects exactly the Veteran-owned leads, were Django let it through.
DEMOGRAPHIC_LOOKUPS = [
    {"ownership_demographic_types__icontains": "Veteran"},
    {"ownership_demographic_types__regex": "Vet"},
    {"ownership_demographic_types__0": "Veteran"},
    {"ownership_demographic_types__startswith": '["Vet'},
    {"ownership_demographic_types__contains": '["Veteran"]'},
    {"ownership_demographic_types__has_key": "0"},
    {"ownership_demographic_types": '["Veteran"]'},
    {"ownership_demographic_types__isnull": "False"},
    {"data_problems__icontains": "Veteran"},
    {"extra__icontains": "Veteran"},
    {"restricted__icontains": "Veteran"},
    {"restricted__problems__0__detail__icontains": "Veteran"},
    {"status__exact": "Matched", "ownership_demographic_types__icontains": "Veteran"},
    {"name_of_business__regex": "."},  # not a filter of the list either: the allow-list holds
    {"applied_delivery__body__contains": "Veteran"},
]


@pytest.fixture
def leads(add_lead):
    """A Veteran-owned lead, with demographics in every odd place CRF could put them, and one
    without."""
    veteran = add_lead(
        nameOfBusiness="Sourdough Bakery",
        ownershipDemographicTypes=["Veteran"],
        businessAddress={"line1": "1 Main St", "ownershipDemographicTypes": ["Veteran"]},
        demographicsNote="Veteran-owned",
        ownerTypes=["Black/African-American"],
        howSold="Web",
    )
    odd = add_lead(nameOfBusiness="Odd Sender", ownershipDemographicTypes="Veteran", howSold="Web")
    unknown = add_lead(
        nameOfBusiness="New Value", ownershipDemographicTypes=["Veteran", "Martian"], howSold="Web"
    )
    plain = add_lead(nameOfBusiness="Plain Co", ownershipDemographicTypes=[])
    return {"veteran": veteran, "odd": odd, "unknown": unknown, "plain": plain}


@pytest.mark.parametrize("params", DEMOGRAPHIC_LOOKUPS, ids=lambda p: "&".join(p))
@pytest.mark.parametrize("role", ["Loan officer", "Lending manager"])
def test_no_query_string_lookup_outside_the_list_filters_is_allowed(
    client, login, leads, role, params
):
    login(role)

    for url in (LEADS, EXPORT):
        response = client.get(url, params)
        assert response.status_code == 400, (url, params)
        assert b"Sourdough Bakery" not in response.content
        assert b'id="bad-request"' in response.content and b'id="nav-sidebar"' in response.content


def test_every_filter_link_the_list_offers_still_works(client, login, leads):
    login("Loan officer")
    page = client.get(LEADS).content.decode()
    sidebar = page[page.index('id="changelist-filter"') :]
    links = {unescape(href) for href in re.findall(r'href="(\?[^"]*)"', sidebar)}

    assert len(links) > 40  # every choice of every filter
    for link in links:
        assert client.get(LEADS + link).status_code == 200, link
        assert client.get(EXPORT + link).status_code == 200, link


def test_a_search_never_matches_on_demographics(client, login, leads):
    login("Loan officer")
    found = client.get(LEADS, {"q": "Black/African-American"}).context["cl"].result_list
    assert list(found) == []


def page_text(client, lead_id) -> str:
    response = client.get(reverse("admin:leads_lead_change", args=[lead_id]))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("which", ["veteran", "odd", "unknown"])
def test_an_officer_sees_no_demographic_value_problem_or_key_on_a_lead(client, login, leads, which):
    login("Loan officer")
    text = page_text(client, leads[which])

    for word in ["Veteran", "Black/African", "Martian", "emographic"]:
        assert word not in text, word
    assert "howSold" in text  # an unknown key that carries nothing sensitive is shown


@pytest.mark.parametrize("which", ["veteran", "odd", "unknown"])
def test_a_manager_sees_them_apart_under_their_own_headings(client, login, leads, which):
    login("Lending manager")
    text = page_text(client, leads[which])

    assert "Veteran" in text
    lead = Lead.objects.get(pk=leads[which])
    assert lead.restricted  # kept apart from what every officer sees
    assert "emographic" not in str(lead.data_problems) + str(lead.extra)


def test_the_data_problems_filter_selects_demographic_problems_only_with_the_permission(
    client, login, leads
):
    login("Loan officer")
    officer_rows = {
        str(lead.pk) for lead in client.get(LEADS, {"problems": "yes"}).context["cl"].result_list
    }
    login("Lending manager")
    manager_rows = {
        str(lead.pk) for lead in client.get(LEADS, {"problems": "yes"}).context["cl"].result_list
    }

    assert leads["odd"] not in officer_rows and leads["unknown"] not in officer_rows
    assert {leads["odd"], leads["unknown"]} <= manager_rows


def test_the_officers_export_has_no_demographic_column_and_the_managers_has(client, login, leads):
    for role, expected in [("Loan officer", False), ("Lending manager", True)]:
        login(role)
        text = b"".join(client.get(EXPORT).streaming_content).decode()
        header = next(csv.reader(io.StringIO(text)))
        assert ("ownershipDemographicTypes" in header) is expected
        assert ("Veteran" in text) is expected


def test_raw_deliveries_need_the_demographics_permission_too(client, django_user_model, leads):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_leaddelivery", "view_lead"])
    )
    client.force_login(viewer)

    assert client.get(reverse("admin:leads_leaddelivery_changelist")).status_code == 403
    viewer.user_permissions.add(Permission.objects.get(codename="view_demographics"))
    assert client.get(reverse("admin:leads_leaddelivery_changelist")).status_code == 200


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (
            "admin:alerts_crsuser_changelist",
            {"lead__ownership_demographic_types__icontains": "Veteran"},
        ),
        (
            "admin:alerts_alert_changelist",
            {"user__lead__ownership_demographic_types__icontains": "Veteran"},
        ),
        ("admin:alerts_alert_changelist", {"user__lead__data_problems__icontains": "Veteran"}),
    ],
)
def test_no_other_list_reaches_the_demographics_through_a_relation(
    client, login, leads, url, params
):
    login("Lending manager")
    assert client.get(reverse(url), params).status_code == 400
