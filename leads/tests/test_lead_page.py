"""A lead's page made for working: the summary, "Work this lead" (dispositions and notes), the one
timeline, CRF's fields under plain labels, and the two truths of a status in the page and the list.

Write-backs go to the test CRF (`crf_api`); tasks run in-process after the commit, which these
tests (inside a transaction) run with `django_capture_on_commit_callbacks`.
"""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts import services as alert_services
from alerts.models import Alert, CRSUser
from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER
from leads import workspace
from leads.admin import display, timeline
from leads.choices import WriteBack
from leads.dispositions import services as dispositions
from leads.intake import services
from leads.models import Disposition, Lead, LeadNote, StatusChange
from leads.ownership import services as ownership
from tests.crf_api import problem

pytestmark = pytest.mark.django_db

LEADS = reverse("admin:leads_lead_changelist")


def page_url(lead_id) -> str:
    return reverse("admin:leads_lead_change", args=[lead_id])


def work_url(lead_id) -> str:
    return reverse("admin:leads_lead_disposition", args=[lead_id])


def section(html: str, element_id: str) -> str:
    """The text of one part of the page, from its id to the next module."""
    start = html.index(f'id="{element_id}"')
    end = html.find('<div class="module"', start + 1)
    return html[start : end if end != -1 else None]


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


class Forms(HTMLParser):
    """Each <form> by id, the names of the fields inside it, and forms opened inside another."""

    def __init__(self):
        super().__init__()
        self.open: list[str] = []
        self.fields: dict[str, set] = {}
        self.nested: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            name = attrs.get("id", "?")
            if self.open:
                self.nested.append(name)
            self.open.append(name)
            self.fields[name] = set()
        elif tag in ("input", "select", "textarea") and self.open and attrs.get("name"):
            self.fields[self.open[-1]].add(attrs["name"])

    def handle_endtag(self, tag):
        if tag == "form" and self.open:
            self.open.pop()


def forms_of(html: str) -> Forms:
    parser = Forms()
    parser.feed(html)
    parser.close()
    return parser


@pytest.fixture
def officer(login):
    return login(LOAN_OFFICER)


@pytest.fixture
def work(client, django_capture_on_commit_callbacks):
    """POST the disposition form as a browser would; the write-back runs after the commit."""

    def post(lead_id, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(work_url(lead_id), fields)

    return post


@pytest.fixture
def crf_update(post_lead, sample_lead, django_capture_on_commit_callbacks):
    """CRF's lead update through the webhook, processed: the lead with a new status."""

    def send(lead_id, status: str):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_lead({**sample_lead, "id": str(lead_id), "status": status})
        assert response.status_code == 202

    return send


# --- The summary ------------------------------------------------------------------------------


def test_the_summary_shows_who_to_call_and_what_they_asked_for(client, officer, add_lead):
    lead_id = add_lead(requestedAmount=125000.5, fraudScore=0.15, phone="(612) 555-0199")
    ownership.assign(Lead.objects.filter(pk=lead_id), officer, by=None)

    summary = section(client.get(page_url(lead_id)).text, "summary")

    assert '<a href="mailto:bob@somecompany.com">bob@somecompany.com</a>' in summary
    assert '<a href="tel:6125550199">(612) 555-0199</a>' in summary
    text = words(summary)
    for expected in [
        "Business Some Company LLC.",
        "Bob Lastnameson",
        "Status Matched",
        "Fraud score 0.15 band >0–0.5",
        "Requested amount $125,000.50",
        "Matched product Some Product",
        "Assigned officer officer",
        "ago (",
    ]:
        assert expected in text.replace("&gt;", ">"), expected
    # CRF's lead owner is CRF's, not ours: never under our label.
    assert "Bob Productownerson" not in summary and "owner" not in summary.lower()


def test_a_lead_nobody_works_yet_says_so(client, officer, add_lead):
    summary = words(section(client.get(page_url(add_lead())).text, "summary"))
    assert "Assigned officer Nobody yet" in summary


def test_crfs_fields_have_labels_a_person_would_write_and_formatted_numbers(
    client, officer, add_lead
):
    lead_id = add_lead(statistics={"craEligibleTract": True})

    text = words(client.get(page_url(lead_id)).text)

    for expected in [
        "FICO score: 660–699",
        "IP address: 127.0.0.1",
        "CRA-eligible tract: Yes",
        "Requested amount: $25,000.00",
        "Net profit: $50,000.00",
        "Funded amount: $10,000.00",
        "Interest rate: 1.5%",
        "APR: 1.2%",
        "Term: 12 months",
        "Amortization: 12 months",
        "Lead owner at CRF: Bob Productownerson",
    ]:
        assert expected in text, expected


def test_crfs_fields_are_grouped_and_folded_below_the_work(client, officer, add_lead):
    html = client.get(page_url(add_lead())).text
    change_form = html[html.index('id="lead_form"') :]

    assert html.index('id="summary"') < html.index('id="work"') < html.index('id="timeline"')
    assert html.index('id="timeline"') < html.index('id="lead_form"')
    folded = re.findall(r'<fieldset class="module aligned collapse"', change_form)
    assert len(folded) >= 8


def test_an_officer_sees_no_demographics_in_the_summary_timeline_or_form(client, officer, add_lead):
    html = client.get(page_url(add_lead(ownershipDemographicTypes=["Veteran"]))).text
    assert "Veteran" not in html and "emographic" not in html


# --- Work this lead: the disposition form ----------------------------------------------------


def test_the_work_forms_are_not_nested_in_the_change_form_and_hold_their_fields(
    client, officer, add_lead
):
    lead_id = add_lead()

    forms = forms_of(client.get(page_url(lead_id)).text)

    assert forms.nested == []
    assert {"status", "fundedAmount", "withdrawnReason", "csrfmiddlewaretoken"} <= forms.fields[
        "disposition-form"
    ]
    assert forms.fields["note-form"] == {"text", "csrfmiddlewaretoken"}
    assert "status" not in forms.fields["lead_form"]


def test_a_page_refused_for_bad_input_nests_no_form_either(client, officer, add_lead):
    response = client.post(work_url(add_lead()), {"status": "Funded"})
    assert forms_of(response.text).nested == []


def test_without_a_crf_key_the_page_says_dispositions_stay_in_leadcrm(
    client, officer, add_lead, work, settings
):
    settings.CRF_API_KEY = ""
    lead_id = add_lead()
    page = words(client.get(page_url(lead_id)).text)
    assert "dispositions are recorded in LeadCRM only and not sent to CRF" in page

    response = work(lead_id, status="Qualified")

    assert (response.status_code, response["Location"]) == (302, page_url(lead_id))
    disposition = Disposition.objects.get()
    assert (disposition.status, disposition.state) == ("Qualified", WriteBack.LOCAL)
    page = words(client.get(page_url(lead_id)).text)
    assert "Recorded Qualified — not sent to CRF (no CRF key)." in page
    assert "Qualified — not sent to CRF (no CRF key)" in page


def test_an_officer_marks_a_lead_contacted_and_crf_gets_it_once(
    client, officer, add_lead, work, crf_api, crf_update
):
    lead_id = add_lead()

    response = work(lead_id, status="Contacted")

    assert response.status_code == 302
    assert crf_api.posted(lead_id) == [{"id": lead_id, "status": "Contacted"}]
    disposition = Disposition.objects.get()
    assert (disposition.author, disposition.state) == (officer, WriteBack.SENT)
    page = words(client.get(page_url(lead_id)).text)
    # Said when recorded: here the send runs after the response, as a worker would.
    assert "Recorded Contacted — waiting to be sent." in page
    assert "Status Matched Contacted — sent to CRF, awaiting confirmation" in page

    crf_update(lead_id, "Contacted")

    summary = words(section(client.get(page_url(lead_id)).text, "summary"))
    assert "Status Contacted Contacted — confirmed by CRF (lead update" in summary
    assert crf_api.posted(lead_id) == [{"id": lead_id, "status": "Contacted"}]


def test_funded_goes_with_its_terms(client, officer, add_lead, work, crf_api):
    lead_id = add_lead()

    work(
        lead_id,
        status="Funded",
        fundedDate="2026-11-30",
        fundedAmount="20000",
        fundedInterestRate="7.25",
        fundedTermMonths="36",
    )

    assert crf_api.posted(lead_id) == [
        {
            "id": lead_id,
            "status": "Funded",
            "fundedDate": "2026-11-30",
            "fundedAmount": 20000.0,
            "fundedInterestRate": 7.25,
            "fundedTermMonths": 36,
        }
    ]
    entry = words(section(client.get(page_url(lead_id)).text, "timeline"))
    assert "Funded · $20,000.00 · rate 7.25% · 36 months · on 2026-11-30" in entry


@pytest.mark.parametrize(
    ("fields", "messages"),
    [
        (
            {"status": "Funded", "fundedAmount": "20000"},
            [
                "Funded on is required when the lead is Funded.",
                "Interest rate (%) is required when the lead is Funded.",
                "Term (months) is required when the lead is Funded.",
            ],
        ),
        ({"status": "Withdrawn"}, ["Say why the lead is Withdrawn."]),
        (
            {"status": "Disqualified", "disqualifiedReason": "Other"},
            ["Describe the reason: it is Other."],
        ),
        ({"status": "Contacted", "fundedAmount": "5"}, ["Funding terms go with Funded only."]),
        ({"status": "Matched"}, ["Select a valid choice. Matched is not one of the"]),
    ],
)
def test_a_disposition_crf_would_refuse_is_not_recorded_and_the_page_says_why(
    client, officer, add_lead, work, crf_api, fields, messages
):
    lead_id = add_lead()

    response = work(lead_id, **fields)

    assert response.status_code == 200
    work_part = section(response.text, "work")
    assert "The disposition was not recorded: please correct the errors below." in work_part
    for message in messages:
        assert message in work_part
    if "fundedAmount" in fields:  # what was typed is still there
        assert f'name="fundedAmount" value="{fields["fundedAmount"]}"' in work_part
    assert not Disposition.objects.exists() and crf_api.posted() == []
    assert 'id="summary"' in response.text and 'id="timeline"' in response.text


def test_crfs_refusal_is_shown_in_crfs_words(client, officer, add_lead, work, crf_api):
    lead_id = add_lead()
    crf_api.script(problem(409, "Conflict", "Lead is closed"))

    work(lead_id, status="Contacted")

    html = client.get(page_url(lead_id)).text
    assert "Contacted — failed: CRF answered 409: Lead is closed" in words(section(html, "summary"))
    entry = words(section(html, "timeline"))
    assert "failed: CRF answered 409: Lead is closed" in entry
    assert "CRF said: Conflict: Lead is closed" in entry
    assert Disposition.objects.get().state == WriteBack.FAILED


def test_a_retry_says_when(client, officer, add_lead, work, crf_api):
    lead_id = add_lead()
    crf_api.script(problem(503, "Service Unavailable", "Down for maintenance"))

    work(lead_id, status="Reviewed")

    disposition = Disposition.objects.get()
    assert disposition.state == WriteBack.PENDING and disposition.next_attempt_at
    summary = words(section(client.get(page_url(lead_id)).text, "summary"))
    assert "Reviewed — waiting to be sent (retry at " in summary
    assert "last try: CRF answered 503: Down for maintenance" in summary


def test_when_crf_later_disagrees_with_a_confirmed_disposition_both_are_shown(
    client, officer, add_lead, work, crf_api, crf_update
):
    lead_id = add_lead(nameOfBusiness="Disputed Bakery")
    work(
        lead_id,
        status="Funded",
        fundedDate="2026-11-30",
        fundedAmount="20000",
        fundedInterestRate="7.25",
        fundedTermMonths="36",
    )
    crf_update(lead_id, "Funded")
    crf_update(lead_id, "Withdrawn")

    expected = "CRF now says Withdrawn; our last: Funded, confirmed by CRF"
    assert expected in words(section(client.get(page_url(lead_id)).text, "summary"))
    row = client.get(LEADS).text
    assert expected in words(row)


def test_without_the_permission_there_is_no_form_and_a_post_is_refused(
    client, django_user_model, add_lead
):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_lead"))
    client.force_login(viewer)
    lead_id = add_lead()

    html = client.get(page_url(lead_id)).text
    assert 'id="disposition-form"' not in html and "disposition_form.js" not in html
    response = client.post(work_url(lead_id), {"status": "Contacted"})
    assert response.status_code == 403
    assert not Disposition.objects.exists()


def test_the_disposition_address_takes_only_a_post(client, officer, add_lead):
    assert client.get(work_url(add_lead())).status_code == 405


def test_a_disposition_of_a_lead_that_is_not_there_is_not_found(client, officer):
    assert client.post(work_url(uuid.uuid4()), {"status": "Contacted"}).status_code == 404


def test_both_roles_may_record_dispositions(client, login, add_lead, work, settings):
    settings.CRF_API_KEY = ""
    lead_id = add_lead()
    for role in (LOAN_OFFICER, LENDING_MANAGER):
        user = login(role)
        assert user.has_perms(["leads.add_disposition", "leads.view_disposition"]), role
        assert work(lead_id, status="Reviewed").status_code == 302
    manager = user
    assert manager.has_perms(["leads.change_disposition", "leads.resend_disposition"])
    assert Disposition.objects.count() == 2


# --- The timeline -----------------------------------------------------------------------------


def at(minutes: int) -> datetime:
    return datetime(2026, 11, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def test_the_timeline_merges_crf_dispositions_notes_and_alerts_newest_first(
    client, officer, add_lead, sample_lead, sample_batch, settings
):
    settings.CRF_API_KEY = ""
    lead_id = add_lead()
    services.receive_lead(
        json.dumps({**sample_lead, "id": lead_id, "status": "Contacted"}).encode()
    )
    services.process_lead(uuid.UUID(lead_id))
    alert_services.receive_alerts(json.dumps(sample_batch[:1]).encode())
    CRSUser.objects.update(lead_id=lead_id)
    lead = Lead.objects.get(pk=lead_id)
    workspace.add_note(lead, officer, "Left a voicemail")
    dispositions.record(lead, {"id": lead_id, "status": "Contacted"}, officer)
    first, second = StatusChange.objects.order_by("delivery_id")
    StatusChange.objects.filter(pk=first.pk).update(changed_at=at(0))
    StatusChange.objects.filter(pk=second.pk).update(changed_at=at(30))
    Alert.objects.update(time=at(10))
    LeadNote.objects.update(created_at=at(20))
    Disposition.objects.update(created_at=at(40))

    html = client.get(page_url(lead_id)).text
    entries = re.findall(r'<li class="entry (\w+)', section(html, "timeline"))

    assert entries == ["disposition", "status", "note", "alert", "status"]
    text = words(section(html, "timeline"))
    assert text.index("Disposition by officer") < text.index("Status Matched → Contacted")
    assert text.index("Note by officer") < text.index("CRS alert for")
    assert "Contacted — " not in text and "not sent to CRF (no CRF key)" in text
    alert = Alert.objects.get()
    assert reverse("admin:alerts_alert_change", args=[alert.pk]) in section(html, "timeline")


def test_a_note_lands_on_the_timeline(client, officer, add_lead):
    lead_id = add_lead()
    response = client.post(reverse("admin:leads_lead_note", args=[lead_id]), {"text": "Called"})

    assert response["Location"] == page_url(lead_id) + "#timeline"
    entry = words(section(client.get(page_url(lead_id)).text, "timeline"))
    assert "Note by officer Called" in entry


def test_the_timeline_shows_an_officer_no_delivery_link_and_a_manager_one(client, login, add_lead):
    lead_id = add_lead()
    delivery = StatusChange.objects.get().delivery_id
    link = reverse("admin:leads_leaddelivery_change", args=[delivery])

    login(LOAN_OFFICER)
    assert link not in section(client.get(page_url(lead_id)).text, "timeline")
    login(LENDING_MANAGER)
    assert link in section(client.get(page_url(lead_id)).text, "timeline")


def test_the_timeline_is_a_fixed_number_of_queries(django_user_model, add_lead, settings):
    settings.CRF_API_KEY = ""
    author = django_user_model.objects.create_user("author")
    lead = Lead.objects.get(pk=add_lead())
    timeline.for_lead(lead, author)  # the user's permissions, read once and kept
    counts = []
    for _ in range(2):
        dispositions.record(lead, {"id": str(lead.pk), "status": "Reviewed"}, author)
        workspace.add_note(lead, author, "Again")
        with CaptureQueriesContext(connection) as queries:
            timeline.for_lead(lead, author)
        counts.append(len(queries))
    assert counts == [6, 6]  # one per kind


# --- The list: two truths, and no query per row ----------------------------------------------


def test_the_list_shows_crfs_status_and_ours(client, officer, add_lead, work, crf_api):
    lead_id = add_lead(nameOfBusiness="Worked Bakery")
    add_lead(nameOfBusiness="Untouched Bakery")
    work(lead_id, status="Contacted")

    html = client.get(LEADS).text
    row = next(r for r in html.split("<tr") if "Worked Bakery" in r)
    assert "Matched" in row and "Contacted — sent to CRF, awaiting confirmation" in words(row)
    untouched = next(r for r in html.split("<tr") if "Untouched Bakery" in r)
    assert "— " not in words(untouched.split('field-status_badge">')[1].split("</td>")[0])


def test_the_list_costs_the_same_queries_for_more_worked_leads(client, officer, add_lead, settings):
    settings.CRF_API_KEY = ""

    def worked_lead():
        lead = Lead.objects.get(pk=add_lead())
        dispositions.record(lead, {"id": str(lead.pk), "status": "Reviewed"}, officer)

    counts = []
    for how_many in (1, 5):
        while Lead.objects.count() < how_many:
            worked_lead()
        with CaptureQueriesContext(connection) as queries:
            assert client.get(LEADS).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_lead_page_costs_the_same_queries_for_a_longer_history(
    client, officer, add_lead, settings
):
    settings.CRF_API_KEY = ""
    lead = Lead.objects.get(pk=add_lead())
    counts = []
    for _ in range(2):
        for _ in range(3):
            dispositions.record(lead, {"id": str(lead.pk), "status": "Reviewed"}, officer)
            workspace.add_note(lead, officer, "Again")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page_url(lead.pk)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- The two truths in words ------------------------------------------------------------------


def truths(status_at_crf: str, updated_minutes: int = 0, **disposition) -> str:
    ours = Disposition(**{"status": "Funded", "state": WriteBack.SENT, **disposition})
    lead = Lead(status=status_at_crf, disposition=ours, updated_at=at(updated_minutes))
    return display.our_status(lead)


def test_each_write_back_state_reads_as_words():
    cases = {
        "Funded — not sent to CRF (no CRF key)": dict(state=WriteBack.LOCAL),
        "Funded — waiting to be sent": dict(state=WriteBack.PENDING),
        "Funded — being sent to CRF": dict(state=WriteBack.SENDING),
        "Funded — sent to CRF, awaiting confirmation": dict(state=WriteBack.SENT),
        "Funded — failed: CRF answered 400: Funding terms are required.": dict(
            state=WriteBack.FAILED, error="CRF answered 400: Funding terms are required."
        ),
        "Funded — superseded by a newer one, never sent": dict(state=WriteBack.SUPERSEDED),
    }
    for expected, fields in cases.items():
        assert truths("Matched", **fields) == expected


def test_a_read_back_that_found_another_status_says_so():
    found = truths("Matched", crf_status="Withdrawn", checked_at=at(5))
    assert found == (
        "Funded — sent to CRF, awaiting confirmation; read back from CRF: Withdrawn "
        "(2026-11-01 12:05)"
    )


def test_crf_moving_on_after_a_confirmation_shows_both_but_a_stale_update_does_not():
    confirmed = dict(confirmed_at=at(10), confirmed_by="webhook")
    assert truths("Withdrawn", **confirmed).startswith(
        "CRF now says Withdrawn; our last: Funded, confirmed by CRF (lead update, 2026-11-01 12:10)"
    )
    read_back = dict(confirmed_at=at(10), confirmed_by="read-back", crf_status="Funded")
    # Read back before CRF's lead update came: the older status it sent is no news.
    assert truths("Contacted", updated_minutes=5, **read_back).startswith("Funded — confirmed")
    assert truths("Withdrawn", updated_minutes=20, **read_back).startswith("CRF now says")
