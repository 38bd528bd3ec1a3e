"""Managers define routing rules in the admin; officers may not."""

import pytest
from django.urls import reverse

from leads.models import Lead, RoutingRule

pytestmark = pytest.mark.django_db


def test_a_manager_defines_a_rule_and_new_leads_follow_it(
    client, login, add_lead, django_user_model
):
    login("Lending manager")
    ann = django_user_model.objects.create_user("ann", is_staff=True)
    bob = django_user_model.objects.create_user("bob", is_staff=True)
    answer = client.post(
        reverse("admin:leads_routingrule_add"),
        {
            "name": "Big loans",
            "position": "1",
            "active": "on",
            "business_state": " mn ",
            "min_amount": "50000",
            "max_amount": "",
            "officers": [ann.pk, bob.pk],
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:2000]
    rule = RoutingRule.objects.get()
    assert rule.business_state == "MN"
    page = client.get(reverse("admin:leads_routingrule_changelist")).content.decode()
    assert "state: MN; amount $50,000–any" in page
    small = add_lead(businessAddress={"state": "MN"}, requestedAmount=1000)
    big = add_lead(businessAddress={"state": "MN"}, requestedAmount=90000)
    assert Lead.objects.get(pk=small).assigned_officer is None
    assert Lead.objects.get(pk=big).assigned_officer == ann


def test_amounts_the_wrong_way_round_are_refused(client, login):
    login("Lending manager")
    answer = client.post(
        reverse("admin:leads_routingrule_add"),
        {"name": "x", "position": "0", "min_amount": "10", "max_amount": "5"},
    )
    assert "The largest amount is below the smallest." in answer.content.decode()


def test_officers_cannot_see_or_change_rules_and_nobody_deletes_them(client, login):
    login("Loan officer")
    assert client.get(reverse("admin:leads_routingrule_changelist")).status_code == 403
    client.logout()
    login("Lending manager")
    rule = RoutingRule.objects.create(name="x")
    assert client.get(reverse("admin:leads_routingrule_delete", args=[rule.pk])).status_code == 403
