"""Ownership on the lead page and in the list: take, give, release; log activities; the filters
and the marks of speed to lead."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Activity, Lead, LeadAssignment
from leads.ownership import services

pytestmark = pytest.mark.django_db
LEADS = reverse("admin:leads_lead_changelist")


def page(lead_id) -> str:
    return reverse("admin:leads_lead_change", args=[lead_id])


def assign_url(lead_id) -> str:
    return reverse("admin:leads_lead_assign", args=[lead_id])


def test_an_officer_takes_a_free_lead_but_not_a_colleagues(
    client, login, add_lead, django_user_model
):
    officer = login("Loan officer")
    free, taken = add_lead(), add_lead()
    colleague = django_user_model.objects.create_user("colleague", is_staff=True)
    services.assign(Lead.objects.filter(pk=taken), colleague, by=None)
    assert "Take this lead" in client.get(page(free)).content.decode()
    assert "Take this lead" not in client.get(page(taken)).content.decode()
    client.post(assign_url(free), {"officer": "me"})
    client.post(assign_url(taken), {"officer": "me"})
    client.post(assign_url(taken), {"officer": str(officer.pk)})  # giving needs a manager
    assert Lead.objects.get(pk=free).assigned_officer == officer
    assert Lead.objects.get(pk=taken).assigned_officer == colleague
    shown = client.get(page(free)).content.decode()
    assert "Assigned by officer" in shown and "Nobody → officer" in shown


def test_a_manager_gives_a_lead_to_an_officer_and_the_timeline_says_so(
    client, login, add_lead, django_user_model
):
    login("Lending manager")
    ann = django_user_model.objects.create_user("ann", is_staff=True, first_name="Ann")
    lead_id = add_lead()
    answer = client.post(assign_url(lead_id), {"officer": str(ann.pk)}, follow=True)
    assert "Assigned officer: ann." in answer.content.decode()
    assert "Nobody → Ann" in answer.content.decode()
    client.post(assign_url(lead_id), {"officer": "none"})
    assert Lead.objects.get(pk=lead_id).assigned_officer is None
    assert LeadAssignment.objects.count() == 2
    inactive = django_user_model.objects.create_user("gone", is_staff=True, is_active=False)
    answer = client.post(assign_url(lead_id), {"officer": str(inactive.pk)}, follow=True)
    assert "Choose an active officer." in answer.content.decode()


def test_bulk_give_from_the_list(client, login, add_lead, django_user_model):
    login("Lending manager")
    ann = django_user_model.objects.create_user("ann", is_staff=True)
    ids = [add_lead(), add_lead()]
    form = client.post(LEADS, {"action": "give_selected", "_selected_action": ids})
    assert "Assign 2 leads to:" in form.content.decode()
    client.post(
        LEADS,
        {"action": "give_selected", "_selected_action": ids, "give": "1", "officer": ann.pk},
    )
    assert set(Lead.objects.values_list("assigned_officer", flat=True)) == {ann.pk}


def test_officers_cannot_give_in_bulk(client, login, add_lead):
    login("Loan officer")
    answer = client.get(LEADS)
    assert "give_selected" not in answer.content.decode()


def test_logging_a_call_sets_first_contact_and_the_next_action(client, login, add_lead):
    officer = login("Loan officer")
    created = (timezone.now() - timedelta(hours=30)).isoformat()
    lead_id = add_lead(dateCreated=created, status="Matched")
    shown = client.get(page(lead_id) + "?log=call").content.decode()
    assert 'value="call" selected' in shown and "log call</a>" in shown
    assert "Overdue: untouched for" in shown
    overdue = client.get(LEADS + "?contact=overdue").content.decode()
    assert str(lead_id) in overdue
    follow_up = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    answer = client.post(
        reverse("admin:leads_lead_activity", args=[lead_id]),
        {"kind": "call", "outcome": "voicemail", "note": "Call back", "next_action_at": follow_up},
        follow=True,
    )
    assert "Logged: Call, left a voicemail; next action" in answer.content.decode()
    lead = Lead.objects.get(pk=lead_id)
    assert lead.first_contact_at is not None and lead.next_action_at is not None
    assert Activity.objects.get().author == officer
    assert str(lead_id) not in client.get(LEADS + "?contact=overdue").content.decode()
    assert str(lead_id) in client.get(LEADS + "?follow_up=planned").content.decode()
    assert str(lead_id) not in client.get(LEADS + "?follow_up=due").content.decode()


def test_a_bad_activity_says_why_and_logs_nothing(client, login, add_lead):
    login("Loan officer")
    lead_id = add_lead()
    answer = client.post(
        reverse("admin:leads_lead_activity", args=[lead_id]),
        {"kind": "fax", "outcome": "reached", "next_action_at": "tomorrow"},
    )
    text = answer.content.decode()
    assert "The activity was not logged" in text
    assert "Select a valid choice" in text and "Enter a valid date/time." in text
    assert not Activity.objects.exists()


def test_my_leads_unassigned_and_the_untouched_mark(client, login, add_lead, django_user_model):
    officer = login("Loan officer")
    mine, nobodys = add_lead(status="Matched"), add_lead(status="Matched")
    services.assign(Lead.objects.filter(pk=mine), officer, by=None)
    my_list = client.get(LEADS + "?officer=me").content.decode()
    assert page(mine) in my_list and page(nobodys) not in my_list
    free_list = client.get(LEADS + "?officer=none").content.decode()
    assert page(nobodys) in free_list and page(mine) not in free_list
    recent = (timezone.now() - timedelta(hours=1)).isoformat()
    add_lead(status="Matched", dateCreated=recent)
    listed = client.get(LEADS).content.decode()
    assert 'class="age untouched">1\xa0hour · untouched' in listed  # new, within the target
    assert 'class="age overdue">' in listed  # the sample's date is years ago
