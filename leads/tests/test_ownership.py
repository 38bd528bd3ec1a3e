"""Ownership, routing and speed to lead (docs/contract.md#17-ownership-and-speed-to-lead)."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER
from leads.models import Activity, Lead, LeadAssignment, Partner, Product, RoutingRule
from leads.ownership import services


@pytest.fixture
def staff(django_user_model):
    def make(name: str, role: str = LOAN_OFFICER, **fields):
        user = django_user_model.objects.create_user(
            name, f"{name}@lender.example", "x", is_staff=True, **fields
        )
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


def one(lead_id) -> Lead:
    return Lead.objects.get(pk=lead_id)


def rule_for(*officers, **conditions) -> RoutingRule:
    rule = RoutingRule.objects.create(name=conditions.pop("name", "rule"), **conditions)
    rule.officers.set(officers)
    return rule


@pytest.mark.django_db
def test_a_new_lead_goes_round_robin_to_the_first_matching_rules_active_officers(staff, add_lead):
    ann, bob, cat = staff("ann"), staff("bob"), staff("cat", is_active=False)
    rule_for(staff("dan"), name="Minnesota only", business_state="ZZ", position=0)
    rule = rule_for(ann, bob, cat, name="Everyone else", position=1)
    got = [one(add_lead()).assigned_officer.username for _ in range(5)]
    assert got == ["ann", "bob", "ann", "bob", "ann"]  # cat is inactive: skipped
    history = LeadAssignment.objects.order_by("id").first()
    assert history.rule == rule and history.by is None and history.from_officer is None


@pytest.mark.django_db
def test_conditions_on_product_partner_state_and_amount(staff, add_lead, sample_lead):
    ann = staff("ann")
    lead = one(add_lead())
    rule = rule_for(
        ann,
        matched_product=lead.matched_product,
        service_partner=lead.service_partner,
        business_state=lead.address_state.lower(),
        min_amount=lead.requested_amount,
        max_amount=lead.requested_amount,
    )
    assert services.matches(rule, lead)
    for change in (
        {"min_amount": lead.requested_amount + 1},
        {"max_amount": lead.requested_amount - 1},
        {"business_state": "ZZ"},
        {"matched_product": Product.objects.create(crf_key="other", name="Other")},
        {"lead_source": Partner.objects.create(crf_key="elsewhere", name="Elsewhere")},
    ):
        changed = RoutingRule(
            **{**{f.attname: getattr(rule, f.attname) for f in rule._meta.concrete_fields}}
        )
        for name, value in change.items():
            setattr(changed, name, value)
        assert not services.matches(changed, lead), change


@pytest.mark.django_db
def test_an_unmatched_lead_stays_unassigned_and_updates_never_reassign(staff, add_lead):
    ann, bob = staff("ann"), staff("bob")
    rule_for(ann, business_state="ZZ")
    lead_id = add_lead()
    assert one(lead_id).assigned_officer is None
    rule_for(bob)
    add_lead(id=lead_id, status="Reviewed")  # a lead update: not an arrival
    assert one(lead_id).assigned_officer is None
    services.take(Lead.objects.filter(pk=lead_id), ann)
    add_lead(id=lead_id, status="Contacted")
    assert one(lead_id).assigned_officer == ann


@pytest.mark.django_db
def test_officers_take_unassigned_leads_but_not_a_colleagues(staff, add_lead):
    ann, bob = staff("ann"), staff("bob")
    manager = staff("meg", LENDING_MANAGER)
    free, bobs = add_lead(), add_lead()
    services.assign(Lead.objects.filter(pk=bobs), bob, by=manager)
    assert services.take(Lead.objects.filter(pk__in=[free, bobs]), ann) == 1
    assert one(free).assigned_officer == ann and one(bobs).assigned_officer == bob
    with pytest.raises(services.NotAllowed):
        services.give(Lead.objects.filter(pk=free), bob, ann)
    assert services.release(Lead.objects.filter(pk=bobs), ann) == 0
    assert services.give(Lead.objects.filter(pk=free), bob, manager) == 1
    assert services.take(Lead.objects.filter(pk=bobs), manager) == 1
    trail = [
        (a.from_officer and a.from_officer.username, a.to_officer.username, a.by.username)
        for a in LeadAssignment.objects.filter(lead_id=free).order_by("id")
    ]
    assert trail == [(None, "ann", "ann"), ("ann", "bob", "meg")]
    with pytest.raises(services.NotAllowed, match="not an active staff member"):
        services.give(Lead.objects.filter(pk=free), staff("gone", is_active=False), manager)


@pytest.mark.django_db
def test_first_contact_from_an_activity_or_a_disposition_at_contacted(staff, add_lead, settings):
    settings.CRF_API_KEY = ""
    from leads.dispositions import services as dispositions

    ann = staff("ann")
    called, reviewed, contacted = add_lead(), add_lead(), add_lead()
    follow_up = timezone.now() + timedelta(days=2)
    services.log_activity(
        one(called), ann, kind="call", outcome="no-answer", next_action_at=follow_up
    )
    dispositions.record(one(reviewed), {"id": reviewed, "status": "Reviewed"}, ann)
    dispositions.record(one(contacted), {"id": contacted, "status": "Contacted"}, ann)
    assert one(called).first_contact_at is not None and one(called).next_action_at == follow_up
    assert one(reviewed).first_contact_at is None
    first = one(contacted).first_contact_at
    assert first is not None
    services.log_activity(one(contacted), ann, kind="email", outcome="sent")
    assert one(contacted).first_contact_at == first  # the first stays the first
    services.log_activity(one(called), ann, kind="call", outcome="reached")
    assert one(called).next_action_at is None  # the follow-up was done; none planned
    assert Activity.objects.filter(lead_id=called).count() == 2


# Row locks between connections: PostgreSQL, so with the integration tests (which need it).
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_workers_routing_at_once_never_take_the_same_turn(staff, add_lead):
    officers = [staff(name) for name in ("ann", "bob", "cat")]
    rule_for(*officers)
    errors = []

    def arrive(count):
        try:
            for _ in range(count):
                add_lead()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=arrive, args=(15,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rule = RoutingRule.objects.get()
    assert rule.turns == 30
    counts = sorted(Lead.objects.filter(assigned_officer=o).count() for o in officers)
    assert counts == [10, 10, 10]
