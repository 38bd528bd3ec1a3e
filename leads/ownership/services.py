"""Ownership and speed to lead (docs/contract.md#17-ownership-and-speed-to-lead).

Every change of a lead's officer goes through `assign`, which records it (who, from, to, when, by
whom). Routing (`route`) runs once, when a lead first arrives, and its choice is saved with the
lead's first state and recorded the same way; lead updates never reassign.
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from leads.choices import CONTACTED_OR_BEYOND
from leads.models import Activity, Lead, LeadAssignment, RoutingRule


class NotAllowed(Exception):
    """The user may not make this assignment; the message says why, for the person."""


def assign(leads: QuerySet, officer, *, by, rule: RoutingRule | None = None) -> int:
    """Give these leads to `officer` (None: unassign), recording each change. Returns how many
    changed. Rows are locked first, so a change made meanwhile is recorded as its own."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            leads.order_by("pk").select_for_update().values_list("pk", "assigned_officer_id")
        )
        changed = [(pk, was) for pk, was in rows if was != (officer.pk if officer else None)]
        if not changed:
            return 0
        Lead.objects.filter(pk__in=[pk for pk, _ in changed]).update(assigned_officer=officer)
        LeadAssignment.objects.bulk_create(
            LeadAssignment(
                lead_id=pk, from_officer_id=was, to_officer=officer, by=by, rule=rule, at=now
            )
            for pk, was in changed
        )
    return len(changed)


def take(leads: QuerySet, user) -> int:
    """An officer takes leads: unassigned ones, or anyone's with the manager permission."""
    if not user.has_perm("leads.reassign_lead"):
        leads = leads.filter(Q(assigned_officer=None) | Q(assigned_officer=user))
    return assign(leads, user, by=user)


def give(leads: QuerySet, officer, user) -> int:
    """A manager gives leads to an active officer (None: unassign)."""
    if not user.has_perm("leads.reassign_lead"):
        raise NotAllowed("Assigning leads to others needs the lending manager role.")
    if officer is not None and not (officer.is_active and officer.is_staff):
        raise NotAllowed(f"{officer} is not an active staff member.")
    return assign(leads, officer, by=user)


def release(leads: QuerySet, user) -> int:
    """Unassign: one's own leads, or anyone's with the manager permission."""
    if not user.has_perm("leads.reassign_lead"):
        leads = leads.filter(assigned_officer=user)
    return assign(leads, None, by=user)


def officers() -> QuerySet:
    """Who leads may be given to: active staff members."""
    return get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")


def route(lead: Lead) -> LeadAssignment | None:
    """Choose the officer of a lead that just arrived: the first active rule it matches,
    round-robin within the rule's active officers. Sets `lead.assigned_officer` for the caller to
    save with the lead's other fields, and returns the assignment to record once it is saved.
    None, and the lead unassigned, when no rule matches (or a matching rule has no active officer).
    """
    return route_all([lead])[0]


def route_all(leads: list[Lead]) -> list[LeadAssignment | None]:
    """`route` for each of several leads that just arrived, in order: one query reads every
    active rule with its pool, and one per rule matched takes its turns for all its leads."""
    unassigned = [lead for lead in leads if lead.assigned_officer_id is None]
    pools = _pools() if unassigned else {}
    by_rule: dict[RoutingRule, list[Lead]] = {}
    for lead in unassigned:
        rule = next((rule for rule in pools if matches(rule, lead)), None)
        if rule is not None:
            by_rule.setdefault(rule, []).append(lead)
    assignments: dict[int, LeadAssignment] = {}
    for rule, matched in by_rule.items():
        pool = pools[rule]
        first = _take_turns(rule, len(matched))
        for turn, lead in enumerate(matched, start=first):
            lead.assigned_officer_id = pool[turn % len(pool)]
            assignments[id(lead)] = LeadAssignment(
                lead=lead,
                to_officer_id=lead.assigned_officer_id,
                by=None,
                rule=rule,
                at=timezone.now(),
            )
    return [assignments.get(id(lead)) for lead in leads]


def _pools() -> dict[RoutingRule, list[int]]:
    """Every active rule with an active officer, in order, with those officers."""
    pools: dict[RoutingRule, list[int]] = {}
    members = (
        RoutingRule.officers.through.objects.filter(
            routingrule__active=True, user__is_active=True, user__is_staff=True
        )
        .select_related("routingrule")
        .order_by("routingrule__position", "routingrule_id", "user_id")
    )
    for member in members:
        pools.setdefault(member.routingrule, []).append(member.user_id)
    return pools


def _take_turns(rule: RoutingRule, count: int) -> int:
    """The first of the rule's next `count` turns, counted in one UPDATE: the row lock it takes
    means two workers never get the same turn."""
    table = connection.ops.quote_name(RoutingRule._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET turns = turns + %s WHERE id = %s RETURNING turns", [count, rule.pk]
        )
        return cursor.fetchone()[0] - count


def matches(rule: RoutingRule, lead: Lead) -> bool:
    checks = [
        (rule.matched_product_id, lead.matched_product_id),
        (rule.product_set_id, lead.product_set_id),
        (rule.service_partner_id, lead.service_partner_id),
        (rule.lead_source_id, lead.lead_source_id),
    ]
    if any(wanted is not None and wanted != actual for wanted, actual in checks):
        return False
    if rule.business_state and rule.business_state.upper() != (lead.address_state or "").upper():
        return False
    amount = lead.requested_amount
    if rule.min_amount is not None and (amount is None or amount < rule.min_amount):
        return False
    if rule.max_amount is not None and (amount is None or amount > rule.max_amount):
        return False
    return True


def contacted(lead_id, at: datetime) -> None:
    """The lead's first contact is at `at`, unless one was recorded earlier."""
    Lead.objects.filter(pk=lead_id).filter(
        Q(first_contact_at=None) | Q(first_contact_at__gt=at)
    ).update(first_contact_at=at)


def disposition_set(lead_id, status: str, at: datetime) -> None:
    """A disposition at Contacted or beyond is a first contact."""
    if status in CONTACTED_OR_BEYOND:
        contacted(lead_id, at)


def log_activity(
    lead: Lead, author, *, kind: str, outcome: str, note: str = "", next_action_at=None
) -> Activity:
    """Log a call, email or meeting: a first contact when it is the first, and the lead's next
    action becomes this one's (or, without one, the soonest left by others)."""
    note = note.strip()
    if "\x00" in note:
        raise ValueError("A note cannot contain a NUL character.")
    with transaction.atomic():
        activity = Activity.objects.create(
            lead=lead,
            author=author,
            kind=kind,
            outcome=outcome,
            note=note,
            next_action_at=next_action_at,
        )
        contacted(lead.pk, activity.at)
        # The newest activity's plan replaces the earlier ones: the follow-up was done.
        Lead.objects.filter(pk=lead.pk).update(next_action_at=next_action_at)
    return activity
