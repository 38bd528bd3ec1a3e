"""The officer's day, the manager's team, the morning digest."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadcrm.roles import LENDING_MANAGER, LOAN_OFFICER
from leads.models import DigestSent, Lead
from leads.ownership import digest, services, worklist

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(django_user_model):
    user = django_user_model.objects.create_user(
        "ann", "ann@lender.example", "x", is_staff=True, first_name="Ann"
    )
    user.groups.add(Group.objects.get(name=LOAN_OFFICER))
    return user


def lead_created(add_lead, hours_ago: float, **changes) -> Lead:
    created = timezone.now() - timedelta(hours=hours_ago)
    return Lead.objects.get(pk=add_lead(dateCreated=created.isoformat(), **changes))


def mine(officer, *leads):
    services.assign(Lead.objects.filter(pk__in=[lead.pk for lead in leads]), officer, by=None)


def test_an_officers_day(add_lead, officer, settings):
    settings.LEAD_FIRST_CONTACT_HOURS = 24
    fresh = lead_created(add_lead, 2, status="Matched")
    late = lead_created(add_lead, 30, status="Reviewed")
    called = lead_created(add_lead, 50, status="Matched")
    closed = lead_created(add_lead, 80, status="Funded")
    someone_elses = lead_created(add_lead, 40, status="Matched")
    mine(officer, fresh, late, called, closed)
    services.log_activity(
        called, officer, kind="call", outcome="voicemail", next_action_at=timezone.now()
    )
    day = worklist.officer_day(officer)
    assert [lead.pk for lead in day.new] == [fresh.pk, late.pk]  # newest first
    assert [lead.pk for lead in day.overdue] == [late.pk]
    assert [lead.pk for lead in day.due] == [called.pk]
    assert (day.new_count, day.overdue_count, day.due_count) == (2, 1, 1)
    assert someone_elses.pk in [lead.pk for lead in worklist.unassigned()[0]]


def test_the_team_numbers(add_lead, officer, django_user_model, settings):
    settings.LEAD_FIRST_CONTACT_HOURS = 24
    bob = django_user_model.objects.create_user("bob", is_staff=True)
    quick = lead_created(add_lead, 10, status="Matched")
    slow = lead_created(add_lead, 100, status="Matched")
    never = lead_created(add_lead, 5, status="Matched")
    funded = lead_created(
        add_lead, 200, status="Funded", funded={"fundedDate": timezone.now().isoformat()}
    )
    mine(officer, quick, slow, never, funded)
    mine(bob, lead_created(add_lead, 1, status="Reviewed"))
    services.contacted(quick.pk, quick.date_created + timedelta(hours=2))
    services.contacted(slow.pk, slow.date_created + timedelta(hours=48))
    with CaptureQueriesContext(connection) as queries:
        rows = {row.name: row for row in worklist.team()}
    assert len(queries) <= 5  # a GROUP BY each, and the names: not one per officer or lead
    ann = rows["Ann"]  # the full name, where there is one
    assert ann.open_leads == 3
    assert ann.contacted_within_target == pytest.approx(1 / 4)
    assert ann.median_hours_to_contact == pytest.approx(25)
    assert ann.funded_this_month == 1
    assert rows["bob"].open_leads == 1 and rows["bob"].median_hours_to_contact is None


def test_the_morning_digest_once_a_day_and_nothing_when_there_is_nothing(
    add_lead, officer, settings
):
    settings.SITE_URL = "https://crm.example.org"
    assert digest.send_all() == 0  # nothing to say: no mail
    lead = lead_created(add_lead, 30, status="Matched")
    mine(officer, lead)
    assert digest.send_all() == 1
    assert digest.send_all() == 0  # recorded: once per officer per day
    [message] = mail.outbox
    assert message.to == ["ann@lender.example"]
    assert "First contact overdue (over 24 h): 1" in message.body
    assert f"https://crm.example.org/admin/leads/lead/{lead.pk}/change/" in message.body
    assert DigestSent.objects.get().leads == 2  # new (untouched) and overdue


def test_a_mail_failure_is_retried_next_run(add_lead, officer, monkeypatch):
    mine(officer, lead_created(add_lead, 30))

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(mail, "send_mail", refuse)
    assert digest.send_all() == 0
    assert not DigestSent.objects.exists()  # not claimed: the next run sends it
    monkeypatch.undo()
    assert digest.send_all() == 1


def test_managers_and_superusers_get_theirs_too(add_lead, django_user_model):
    manager = django_user_model.objects.create_user("meg", "meg@lender.example", is_staff=True)
    manager.groups.add(Group.objects.get(name=LENDING_MANAGER))
    django_user_model.objects.create_user("noemail", "", is_staff=True)
    outsider = django_user_model.objects.create_user("out", "out@lender.example", is_staff=True)
    assert manager in digest.recipients() and outsider not in digest.recipients()
