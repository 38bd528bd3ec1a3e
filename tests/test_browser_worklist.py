"""In Chromium: an officer's morning (the worklist, an overdue lead, a call logged with a
follow-up) and a manager's (a routing rule, two leads by webhook, a reassignment)."""

import json
import urllib.request
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from playwright.sync_api import expect

from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER
from leads.models import Activity, Lead, LeadAssignment, RoutingRule
from leads.ownership import services as ownership
from tests.browser import SHOTS

pytestmark = pytest.mark.django_db(transaction=True)


def officer(django_user_model, name: str):
    user = django_user_model.objects.create_user(name, f"{name}@lender.example", "x", is_staff=True)
    user.groups.add(Group.objects.get(name=LOAN_OFFICER))
    return user


def test_an_officers_morning(logged_in, live_server, add_lead, django_user_model):
    created = (timezone.now() - timedelta(hours=30)).isoformat()
    late = add_lead(dateCreated=created, status="Matched", nameOfBusiness="Late Bakery")
    page = logged_in(LOAN_OFFICER)
    me = django_user_model.objects.get(username="officer")
    ownership.assign(Lead.objects.filter(pk=late), me, by=None)

    page.goto(f"{live_server.url}/admin/")
    overdue = page.locator("#worklist-overdue")
    expect(overdue).to_contain_text("Late Bakery")
    page.screenshot(path=SHOTS / "officer-worklist.png", full_page=True)
    overdue.get_by_role("link", name="Late Bakery").click()
    expect(page.locator("#summary")).to_contain_text("Overdue: untouched for")

    page.get_by_role("link", name="log call").click()
    form = page.locator("#log-activity")
    expect(form.locator("select[name=kind]")).to_have_value("call")
    form.locator("select[name=outcome]").select_option(label="Left a voicemail")
    form.locator("textarea[name=note]").fill("Asked her to call back about the equipment loan")
    tomorrow = (timezone.localtime() + timedelta(days=1)).replace(hour=10, minute=0)
    form.locator("input[name=next_action_at]").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Log it").click()
    expect(page.locator(".messagelist")).to_contain_text("Logged: Call, left a voicemail")
    expect(page.locator("#timeline")).to_contain_text("Call by officer")
    page.screenshot(path=SHOTS / "officer-logged-call.png", full_page=True)

    lead = Lead.objects.get(pk=late)
    assert lead.first_contact_at is not None
    assert timezone.localtime(lead.next_action_at).hour == 10
    assert Activity.objects.get().note.startswith("Asked her")
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#worklist-overdue")).not_to_contain_text("Late Bakery")
    expect(page.locator("#worklist-overdue")).to_contain_text("No overdue first contacts")


def test_a_managers_rule_routes_two_webhook_leads_round_robin_and_a_reassignment(
    logged_in, live_server, sample_lead, crf_secret, django_user_model
):
    ann, bob = officer(django_user_model, "ann"), officer(django_user_model, "bob")
    page = logged_in(LENDING_MANAGER)
    page.goto(f"{live_server.url}/admin/leads/routingrule/add/")
    page.fill("#id_name", "Everything, Ann and Bob")
    page.locator("#id_officers_from").select_option(["ann", "bob"])
    page.locator("#id_officers_add").click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert set(RoutingRule.objects.get().officers.all()) == {ann, bob}

    ids = []
    for name in ("First Diner", "Second Diner"):
        lead = {**sample_lead, "id": str(uuid.uuid4()), "nameOfBusiness": name}
        request = urllib.request.Request(
            f"{live_server.url}/webhooks/crf/leads/",
            json.dumps(lead).encode(),
            {"Content-Type": "application/json", "X-Api-Key": crf_secret},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 202
        ids.append(lead["id"])
    owners = [Lead.objects.get(pk=pk).assigned_officer for pk in ids]
    assert owners == [ann, bob]

    page.goto(f"{live_server.url}/admin/leads/lead/{ids[1]}/change/")
    page.locator("#id_assign_officer").select_option(label="ann")
    page.locator("#assign-form").get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("Assigned officer: ann.")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Routed by rule “Everything, Ann and Bob”")
    expect(timeline).to_contain_text("Nobody → bob")
    expect(timeline).to_contain_text("Assigned by manager")
    expect(timeline).to_contain_text("bob → ann")
    page.screenshot(path=SHOTS / "manager-reassigned.png", full_page=True)
    assert Lead.objects.get(pk=ids[1]).assigned_officer == ann
    assert LeadAssignment.objects.filter(lead_id=ids[1]).count() == 2
