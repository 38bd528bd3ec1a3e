"""The write-backs admin (Write-backs to CRF): the list, its filters, a write-back's page, the
resend action and the banner for what was recorded without a key, by role, through the test
client, with the test CRF server taking what is sent."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER, ensure_roles
from leads.choices import Confirmation, WriteBack
from leads.dispositions import services
from leads.models import Disposition, Lead
from tests.browser import SHOTS
from tests.crf_api import KEY, problem
from tests.test_admin_pages import nested_forms
from tests.test_browser import run_action

pytestmark = pytest.mark.django_db

LIST = reverse("admin:leads_disposition_changelist")
SEND_UNSENT = reverse("admin:leads_disposition_send_unsent")
OFFICER_GRANTS = ["view_disposition", "add_disposition"]
MANAGER_GRANTS = OFFICER_GRANTS + ["change_disposition", "resend_disposition"]


@pytest.fixture(autouse=True)
def grants(db):
    """The roles as issue 11 has them (leads/roles.py grants them once the lead page lands)."""
    ensure_roles(Group, Permission)  # a transactional test before this one emptied the tables
    for role, codenames in ((LOAN_OFFICER, OFFICER_GRANTS), (LENDING_MANAGER, MANAGER_GRANTS)):
        wanted = Permission.objects.filter(content_type__app_label="leads", codename__in=codenames)
        Group.objects.get(name=role).permissions.add(*wanted)


@pytest.fixture
def author(django_user_model):
    return django_user_model.objects.create_user("writer", first_name="Wanda", is_staff=True)


@pytest.fixture
def record(add_lead, author, django_capture_on_commit_callbacks):
    """Record a disposition through the service (sent at commit when a CRF key is set)."""

    def make(status="Contacted", lead_id=None, name="Acme Bakery", **body) -> Disposition:
        lead = Lead.objects.get(pk=lead_id or add_lead(nameOfBusiness=name))
        with django_capture_on_commit_callbacks(execute=True):
            made = services.record(lead, {"id": str(lead.pk), "status": status, **body}, author)
        made.refresh_from_db()
        return made

    return make


def listed(response) -> list[Disposition]:
    return list(response.context["cl"].result_list)


def act(client, action: str, dispositions, callbacks):
    data = {"action": action, "_selected_action": [d.pk for d in dispositions]}
    with callbacks(execute=True):
        return client.post(LIST, data, follow=True)


# --- The list ---------------------------------------------------------------------------------


def test_the_list_shows_each_write_back_with_its_lead_words_state_and_problem(
    client, login, crf_api, record
):
    crf_api.script(problem(409, "Conflict", "The lead was changed by someone else."))
    failed = record("Withdrawn", withdrawnReason="Duplicate", name="Sourdough Bakery")
    login(LOAN_OFFICER)

    response = client.get(LIST)

    assert response.status_code == 200
    page = response.text
    lead_url = reverse("admin:leads_lead_change", args=[failed.lead_id])
    assert f'<a href="{lead_url}"><span class="clipped" title="Sourdough Bakery">' in page
    assert "Withdrawn · Duplicate" in page
    assert "Failed" in page
    assert "Conflict: The lead was changed by someone else." in page
    assert "writer" in page
    assert "<h1>Write-backs to CRF</h1>" in page


def test_the_list_makes_no_query_per_row(client, login, crf_api, record):
    login(LOAN_OFFICER)
    record()
    with CaptureQueriesContext(connection) as one:
        client.get(LIST)
    for n in range(5):
        record(name=f"Business {n}")
    with CaptureQueriesContext(connection) as six:
        client.get(LIST)
    assert len(six) == len(one)


def test_a_confirmed_write_back_says_by_what(client, login, crf_api, record):
    disposition = record()
    services.reconcile_one(disposition)
    login(LOAN_OFFICER)

    assert "Read back from CRF, " in client.get(LIST).text
    page = client.get(reverse("admin:leads_disposition_change", args=[disposition.pk])).text
    assert re.search(r"\d\d:\d\d: Contacted", page)


def test_search_by_lead_id_finds_only_its_write_backs(client, login, crf_api, record):
    mine, other = record(), record()
    login(LOAN_OFFICER)

    assert listed(client.get(LIST, {"q": str(mine.lead_id)})) == [mine]
    assert listed(client.get(LIST, {"q": "Acme"})) == []
    assert other.pk


# --- Filters ----------------------------------------------------------------------------------


@pytest.fixture
def states(crf_api, record):
    """One write-back in each state the filters tell apart."""
    crf_api.script(problem(400, "Bad Request", "No."))
    failed = record("Reviewed")
    stale = record("Contacted")
    Disposition.objects.filter(pk=stale.pk).update(sent_at=timezone.now() - timedelta(days=2))
    recent = record("Qualified")
    confirmed = record("Contacted")
    services.confirm(confirmed.lead_id, ["Contacted"])
    old_confirmed = record("Reviewed")
    Disposition.objects.filter(pk=old_confirmed.pk).update(
        sent_at=timezone.now() - timedelta(days=3),
        confirmed_at=timezone.now(),
        confirmed_by=Confirmation.WEBHOOK,
    )
    return {
        "failed": failed,
        "stale": stale,
        "recent": recent,
        "confirmed": confirmed,
        "old_confirmed": old_confirmed,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"attention": "yes"}, {"failed", "stale"}),
        ({"state__exact": "failed"}, {"failed"}),
        ({"state__exact": "sent"}, {"stale", "recent", "confirmed", "old_confirmed"}),
        ({"status__exact": "Contacted"}, {"stale", "confirmed"}),
        ({"confirmed": "yes"}, {"confirmed", "old_confirmed"}),
        ({"confirmed": "no"}, {"failed", "stale", "recent"}),
        ({"attention": "yes", "status__exact": "Reviewed"}, {"failed"}),
    ],
)
def test_the_filters_keep_only_their_write_backs(client, login, states, params, expected):
    login(LOAN_OFFICER)

    response = client.get(LIST, params)

    assert response.status_code == 200
    assert {d.pk for d in listed(response)} == {states[name].pk for name in expected}


def test_every_filter_link_the_list_offers_works(client, login, states):
    login(LENDING_MANAGER)
    page = client.get(LIST).content.decode()
    sidebar = page[page.index('id="changelist-filter"') :]
    links = {unescape(href) for href in re.findall(r'href="(\?[^"]*)"', sidebar)}

    assert len(links) > 10
    for link in links:
        assert client.get(LIST + link).status_code == 200, link


@pytest.mark.parametrize(
    "params",
    [
        {"lead__ownership_demographic_types__icontains": "Veteran"},
        {"lead__ownership_demographic_types__0": "Veteran"},
        {"lead__restricted__icontains": "Veteran"},
        {"lead__data_problems__icontains": "Veteran"},
        {"lead__name_of_business": "Sourdough Bakery"},
        {"body__icontains": "Duplicate"},
        {"author__username": "writer"},
        {"state__in": "failed,sent"},
        {"status__exact": "Reviewed", "lead__ownership_demographic_types__icontains": "Vet"},
    ],
    ids=lambda params: "&".join(params),
)
@pytest.mark.parametrize("role", [LOAN_OFFICER, LENDING_MANAGER])
def test_no_query_string_lookup_outside_the_list_filters_is_allowed(
    client, login, crf_api, add_lead, record, role, params
):
    veteran = add_lead(nameOfBusiness="Sourdough Bakery", ownershipDemographicTypes=["Veteran"])
    record(lead_id=veteran)
    login(role)

    response = client.get(LIST, params)

    assert response.status_code == 400
    assert b"Sourdough Bakery" not in response.content
    assert b'id="bad-request"' in response.content


# --- A write-back's page ----------------------------------------------------------------------


def test_the_page_shows_the_exact_body_sent_and_crfs_problem(client, login, crf_api, record):
    crf_api.script(problem(400, "Bad Request", "fundedAPR is out of range."))
    disposition = record(
        "Funded",
        fundedDate="2026-11-30",
        fundedAmount=250000.0,
        fundedInterestRate=7.25,
        fundedTermMonths=60,
    )
    login(LOAN_OFFICER)

    page = client.get(reverse("admin:leads_disposition_change", args=[disposition.pk])).text

    assert "Body sent to CRF" in page
    assert "&quot;fundedAmount&quot;: 250000.0" in page
    assert f"&quot;id&quot;: &quot;{disposition.lead_id}&quot;" in page
    assert "&quot;detail&quot;: &quot;fundedAPR is out of range.&quot;" in page
    assert "CRF answered 400: fundedAPR is out of range." in page
    assert 'name="_save"' not in page


def test_write_backs_cannot_be_added_changed_or_deleted(client, login, crf_api, record):
    disposition = record()
    login(LENDING_MANAGER)
    change = reverse("admin:leads_disposition_change", args=[disposition.pk])

    assert client.get(reverse("admin:leads_disposition_add")).status_code == 403
    assert client.post(change, {"status": "Funded"}).status_code == 403
    delete = reverse("admin:leads_disposition_delete", args=[disposition.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Disposition.objects.get(pk=disposition.pk).status == "Contacted"


def test_staff_without_the_view_permission_cannot_open_the_list(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", is_staff=True))
    assert client.get(LIST).status_code == 403


# --- Resending --------------------------------------------------------------------------------


def test_a_manager_resends_a_failed_write_back_and_crf_takes_it(
    client, login, crf_api, record, django_capture_on_commit_callbacks
):
    crf_api.script(problem(400, "Bad Request", "Try later."))
    failed = record("Qualified")
    assert failed.state == WriteBack.FAILED
    login(LENDING_MANAGER)

    response = act(client, "resend", [failed], django_capture_on_commit_callbacks)

    assert "Queued 1 write-back for sending to CRF." in response.text
    assert "Skipped" not in response.text
    failed.refresh_from_db()
    assert failed.state == WriteBack.SENT and failed.error == "" and failed.problem == {}
    assert crf_api.applied(failed.lead_id) == ["Qualified"]


def test_resending_says_how_many_were_skipped(
    client, login, crf_api, record, django_capture_on_commit_callbacks
):
    crf_api.script(problem(400, "Bad Request", "No."), problem(400, "Bad Request", "No."))
    older = record("Reviewed")
    newest = record("Contacted", lead_id=older.lead_id)
    sent = record("Qualified")
    login(LENDING_MANAGER)

    response = act(client, "resend", [older, newest, sent], django_capture_on_commit_callbacks)

    assert "Queued 1 write-back for sending to CRF. Skipped 2: " in response.text
    assert crf_api.posted(older.lead_id)[-1] == {"id": str(older.lead_id), "status": "Contacted"}
    assert len(crf_api.posted(older.lead_id)) == 3  # Reviewed, Contacted, Contacted again
    assert len(crf_api.posted(sent.lead_id)) == 1


def test_a_loan_officer_cannot_resend(
    client, login, crf_api, record, django_capture_on_commit_callbacks
):
    crf_api.script(problem(400, "Bad Request", "No."))
    failed = record()
    login(LOAN_OFFICER)

    assert "Resend to CRF" not in client.get(LIST).text
    act(client, "resend", [failed], django_capture_on_commit_callbacks)

    failed.refresh_from_db()
    assert failed.state == WriteBack.FAILED
    assert len(crf_api.posted()) == 1


# --- Recorded without a key -------------------------------------------------------------------


@pytest.fixture
def recorded_without_key(settings, record):
    """Three leads' dispositions recorded while no key was set (one lead has two)."""
    settings.CRF_API_KEY = ""
    first = record("Reviewed", name="First")
    newest = record("Contacted", lead_id=first.lead_id)
    others = [record("Qualified", name=f"Other {n}") for n in range(2)]
    return [newest, *others]


def test_without_a_key_the_list_says_dispositions_are_recorded_here_only(
    client, login, recorded_without_key
):
    login(LENDING_MANAGER)

    page = client.get(LIST).text

    assert 'id="crf-not-configured"' in page and "recorded here only" in page
    assert 'id="unsent-banner"' not in page


def test_with_a_key_a_manager_sends_what_was_recorded_without_one(
    client, login, recorded_without_key, crf_api, django_capture_on_commit_callbacks
):
    login(LENDING_MANAGER)

    page = client.get(LIST).text
    assert "3 dispositions were recorded while no CRF key was set." in page
    assert 'id="send-unsent"' in page and KEY not in page
    assert nested_forms(page) == []  # the button's form stands outside the list's form

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(SEND_UNSENT, follow=True)

    assert "Queued 3 write-backs for sending to CRF." in response.text
    assert sorted(body["status"] for body in crf_api.posted()) == [
        "Contacted",
        "Qualified",
        "Qualified",
    ]
    assert services.unsent().count() == 0
    assert 'id="unsent-banner"' not in client.get(LIST).text


def test_a_loan_officer_sees_the_banner_but_cannot_send(
    client, login, recorded_without_key, crf_api
):
    login(LOAN_OFFICER)

    page = client.get(LIST).text

    assert "3 dispositions were recorded while no CRF key was set." in page
    assert 'id="send-unsent"' not in page
    assert client.post(SEND_UNSENT).status_code == 403
    assert crf_api.requests == []


def test_without_a_key_neither_the_action_nor_the_button_queues_anything(
    client, login, recorded_without_key, django_capture_on_commit_callbacks
):
    login(LENDING_MANAGER)

    response = act(client, "resend", recorded_without_key, django_capture_on_commit_callbacks)
    assert "No CRF key is set: nothing can be sent." in response.text
    response = client.post(SEND_UNSENT, follow=True)
    assert "No CRF key is set: nothing can be sent." in response.text

    assert services.unsent().count() == 3
    assert set(Disposition.objects.values_list("state", flat=True)) <= {
        WriteBack.LOCAL,
        WriteBack.SUPERSEDED,
    }


def test_the_send_button_takes_only_a_post(client, login, recorded_without_key, crf_api):
    login(LENDING_MANAGER)
    assert client.get(SEND_UNSENT).status_code == 405
    assert crf_api.requests == []


def test_the_key_is_on_no_page(client, login, crf_api, record):
    crf_api.script(problem(401, "Unauthorized", "Bad key."))
    disposition = record()
    login(LENDING_MANAGER)

    for url in (LIST, reverse("admin:leads_disposition_change", args=[disposition.pk])):
        response = client.get(url)
        assert response.status_code == 200
        assert KEY not in response.text


# --- Indexes (PostgreSQL) ---------------------------------------------------------------------


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: show the planner's index
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.integration
def test_the_needs_attention_list_and_the_reconcile_read_the_partial_index(rf, admin_user):
    from django.contrib import admin

    from leads.admin.dispositions import DispositionAdmin

    request = rf.get(LIST, {"attention": "yes"})
    request.user = admin_user
    changelist = DispositionAdmin(Disposition, admin.site).get_changelist_instance(request)

    for queryset in (changelist.get_queryset(request)[:100], services.to_reconcile()[:100]):
        explained = plan(queryset)
        assert "disposition_attention_idx" in explained, explained


# --- In Chromium ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_manager_clicks_send_them_to_crf_in_the_banner(
    logged_in,  # noqa: F811 (the fixture imported above)
    live_server,
    settings,
    add_lead,
    author,
    crf_api,
):
    settings.CRF_API_KEY = ""
    leads = [Lead.objects.get(pk=add_lead(nameOfBusiness=f"Bakery {n}")) for n in range(2)]
    for lead in leads:
        services.record(lead, {"id": str(lead.pk), "status": "Reviewed"}, author)
    settings.CRF_API_KEY = KEY
    page = logged_in(LENDING_MANAGER)
    page.goto(live_server.url + LIST)
    page.screenshot(path=SHOTS / "manager-write-backs-unsent.png", full_page=True)

    page.get_by_role("button", name="Send them to CRF").click()

    expect(page.locator(".messagelist")).to_contain_text("Queued 2 write-backs for sending to CRF.")
    assert sorted(body["id"] for body in crf_api.posted()) == sorted(str(x.pk) for x in leads)
    assert set(Disposition.objects.values_list("state", flat=True)) == {WriteBack.SENT}
    expect(page.locator("#unsent-banner")).to_have_count(0)


@pytest.mark.django_db(transaction=True)
def test_a_manager_resends_a_failed_write_back_from_the_list(
    logged_in,  # noqa: F811 (the fixture imported above)
    live_server,
    add_lead,
    author,
    crf_api,
):
    crf_api.script(problem(409, "Conflict", "The lead is being changed."))
    lead = Lead.objects.get(pk=add_lead(nameOfBusiness="Conflicted Bakery"))
    failed = services.record(lead, {"id": str(lead.pk), "status": "Contacted"}, author)
    page = logged_in(LENDING_MANAGER)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(live_server.url + LIST + "?attention=yes")
    results = page.locator("#changelist .results")
    assert results.evaluate("e => e.scrollWidth <= e.clientWidth"), "the list scrolls sideways"
    row = page.locator("#result_list tbody tr", has_text="Conflicted Bakery")
    expect(row).to_contain_text("Conflict: The lead is being changed.")
    page.screenshot(path=SHOTS / "manager-write-backs-attention.png", full_page=True)

    run_action(page, "Resend to CRF", "Conflicted Bakery")

    expect(page.locator(".messagelist")).to_contain_text("Queued 1 write-back for sending to CRF.")
    failed.refresh_from_db()
    assert failed.state == WriteBack.SENT
    assert crf_api.applied(lead.pk) == ["Contacted"]
    expect(page.locator("#result_list tbody tr", has_text="Conflicted Bakery")).to_have_count(0)
    page.goto(live_server.url + reverse("admin:leads_disposition_change", args=[failed.pk]))
    expect(page.locator(".field-body_sent pre")).to_contain_text(f'"id": "{lead.pk}"')
    page.screenshot(path=SHOTS / "manager-write-back-page.png", full_page=True)
