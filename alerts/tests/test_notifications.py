"""Notification rules: who hears of an alert, once, in which words, and what happens when mail or
a rule's template fails."""

import json
import socket
import threading
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from alerts import services, tasks
from alerts.models import Alert, AlertDelivery, Notification, NotificationRule, template_names

from .mail import RENDEZVOUS

pytestmark = pytest.mark.django_db


def alert_item(person, alert_type="ACCALERT", **fields) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": alert_type,
        "user_id": str(person.id),
        "time": 1763784000,
        "alert_source": "Equifax",
        **fields,
    }


def receive(items) -> None:
    services.receive_alerts(json.dumps(items).encode())


def test_a_fresh_install_has_rules_for_alerts_a_person_must_act_on():
    rules = {
        r.alert_type: (r.notify_crs_user, r.notify_assigned_officer)
        for r in NotificationRule.objects.all()
    }
    assert rules == {
        "ACCALERT": (True, True),
        "IDFAIL": (False, True),
        "ACCREGFAIL": (False, True),
        "ACCLOCKED": (False, True),
    }


def test_a_credit_alert_reaches_the_person_and_their_loan_officer(
    linked_person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        receive([alert_item(linked_person)])

    assert sorted(m.to[0] for m in mail.outbox) == ["bob@somecompany.com", "officer@lender.example"]
    assert mail.outbox[0].subject == "Credit alert: Account alert (credit)"
    assert "Bob Lastnameson" in mail.outbox[0].body and "Equifax" in mail.outbox[0].body
    assert Alert.objects.get().processed_at is not None
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_test_alerts_are_recorded_and_never_notify_anyone(
    linked_person, django_capture_on_commit_callbacks
):
    NotificationRule.objects.create(
        alert_type="TEST", notify_crs_user=True, addresses="ops@lender.example"
    )
    with django_capture_on_commit_callbacks(execute=True):
        receive([alert_item(linked_person, "TEST")])

    assert mail.outbox == []
    assert Alert.objects.get().processed_at is not None
    assert not Notification.objects.exists()


def test_types_without_a_rule_are_processed_quietly(linked_person):
    receive([alert_item(linked_person, "SCOREREF")])
    services.notify(list(Alert.objects.values_list("id", flat=True)))

    assert mail.outbox == []
    assert Alert.objects.get().processed_at is not None


def test_a_rule_edited_in_the_admin_decides_recipients_and_words(linked_person):
    NotificationRule.objects.filter(alert_type="ACCALERT").update(
        notify_crs_user=False,
        notify_assigned_officer=False,
        addresses="risk@lender.example, officer@lender.example",
        subject_template="{{ alert.alert_source }} reported {{ type_label }}",
        body_template="Lead: {{ lead.name_of_business }} <{{ user.email }}>",
    )
    receive([alert_item(linked_person)])
    services.notify(list(Alert.objects.values_list("id", flat=True)))

    assert sorted(m.to[0] for m in mail.outbox) == ["officer@lender.example", "risk@lender.example"]
    assert mail.outbox[0].subject == "Equifax reported Account alert (credit)"
    assert (
        mail.outbox[0].body == "Lead: Some Company LLC. <bob@somecompany.com>"
    )  # not HTML-escaped


def test_notifying_twice_sends_nothing_twice(linked_person):
    receive([alert_item(linked_person)])
    alert_ids = list(Alert.objects.values_list("id", flat=True))
    assert services.notify(alert_ids) == 2
    Alert.objects.update(processed_at=None)  # as if the task ran again before it was marked

    assert services.notify(alert_ids) == 0
    assert len(mail.outbox) == 2


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_failed_send_is_recorded_and_retried_by_the_sweep(
    settings, linked_person, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    receive([alert_item(linked_person)])
    alert = Alert.objects.get()
    services.notify([alert.pk])

    notes = Notification.objects.all()
    assert {(n.status, n.attempts) for n in notes} == {("failed", 1)}
    assert "ConnectionRefusedError" in notes[0].error
    assert Alert.objects.get().processed_at is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the server is back
    Alert.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_alerts.delay().get() == 1

    assert {(n.status, n.attempts) for n in Notification.objects.all()} == {("sent", 2)}
    assert Alert.objects.get().processed_at is not None


def test_a_send_that_keeps_failing_is_given_up_after_five_attempts(settings, linked_person):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    receive([alert_item(linked_person)])
    alert = Alert.objects.get()
    for _ in range(services.MAX_SEND_ATTEMPTS):
        services.notify([alert.pk])

    assert {(n.status, n.attempts) for n in Notification.objects.all()} == {("failed", 5)}
    assert Alert.objects.get().processed_at is not None  # left for a person, out of the sweep
    assert services.alerts_due_for_notification(grace=timedelta(0)) == []


# --- What templates see -------------------------------------------------------------------------


def test_the_starting_rules_read_as_they_always_did(linked_person):
    dated = alert_item(linked_person, alert_date="2026-11-21T04:00:00Z")
    receive([alert_item(linked_person), dated])
    services.notify(list(Alert.objects.values_list("id", flat=True)))

    bodies = {m.body for m in mail.outbox}
    assert {m.subject for m in mail.outbox} == {"Credit alert: Account alert (credit)"}
    assert bodies == {
        "Account alert (credit) for Bob Lastnameson (lead: Some Company LLC.).\n"
        "Reported Nov. 22, 2025, 4 a.m. by Equifax.\n",
        "Account alert (credit) for Bob Lastnameson (lead: Some Company LLC.).\n"
        "Reported Nov. 21, 2026, 4 a.m. by Equifax.\n",
    }


LEAKS = [
    "{{ lead.assigned_officer.password }}",
    "{{ lead.ownership_demographic_types }}",
    "{{ alert.delivery.body }}",
    "{{ user.lead.assigned_officer.email }}",
]


@pytest.mark.parametrize("expression", LEAKS)
def test_a_rule_written_around_the_form_reaches_nothing_beyond_its_names(linked_person, expression):
    # Besides the name: what a template could do with a record, print it whole, list its values.
    body = f"[{expression}] [{{{{ lead|pprint }}}}] [{{{{ user.values }}}}] {{{{ lead }}}}"
    NotificationRule.objects.filter(alert_type="ACCALERT").update(
        subject_template=f"Alert {expression}", body_template=body
    )
    receive([alert_item(linked_person)])
    services.notify(list(Alert.objects.values_list("id", flat=True)))

    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert message.subject == "Alert"
        assert message.body.startswith("[] [")
        assert message.body.endswith("] Some Company LLC.")
        for secret in ["pbkdf2", "Veteran", "officer@lender.example", "Equifax", "ACCALERT"]:
            assert secret not in message.body  # no hash, demographic, officer or raw batch


# --- A template that fails at send time --------------------------------------------------------


def break_the_credit_alert_rule() -> NotificationRule:
    """As a rule saved before templates were checked may be: CRS's codes are not numbers."""
    rule = NotificationRule.objects.get(alert_type="ACCALERT")
    NotificationRule.objects.filter(pk=rule.pk).update(
        body_template="Code parity: {{ alert.error_code|divisibleby:2 }}"
    )
    return rule


def test_a_template_failing_on_an_alert_is_recorded_not_sent_and_the_chunk_goes_on(linked_person):
    break_the_credit_alert_rule()
    receive([alert_item(linked_person, error_code="REG-104"), alert_item(linked_person, "IDFAIL")])

    assert services.notify(list(Alert.objects.values_list("id", flat=True))) == 1

    assert [m.to for m in mail.outbox] == [["officer@lender.example"]]  # the IDFAIL rule's
    failed = Notification.objects.filter(alert__type="ACCALERT")
    assert {(n.status, n.attempts, n.sent_at) for n in failed} == {("template_error", 0, None)}
    assert "The body template failed: ValueError: invalid literal for int()" in failed[0].error
    assert not Alert.objects.filter(processed_at=None).exists()  # out of the sweep until fixed


def test_healthz_names_the_rule_whose_template_failed(client, linked_person):
    rule = break_the_credit_alert_rule()
    receive([alert_item(linked_person, error_code="REG-104")])
    services.notify(list(Alert.objects.values_list("id", flat=True)))

    body = client.get("/healthz/").json()

    assert body["status"] == "warning"
    assert any(
        w.startswith(f"Notification rule {rule.pk} (ACCALERT rule) failed to render 2 notification")
        and "ValueError" in w
        for w in body["warnings"]
    ), body["warnings"]


def test_healthz_names_an_active_rule_the_form_would_refuse(client):
    rule = NotificationRule.objects.get(alert_type="IDFAIL")
    NotificationRule.objects.filter(pk=rule.pk).update(body_template="{{ lead.email }}")

    warnings = client.get("/healthz/").json()["warnings"]

    assert warnings == [
        f"Notification rule {rule.pk} (IDFAIL rule): its body template would be refused now. "
        "Notification templates cannot use lead.email. Available: "
        + ", ".join(template_names())
        + "."
    ]


def test_saving_the_fixed_rule_sends_what_it_failed_to_render(
    manager_client, client, linked_person, django_capture_on_commit_callbacks
):
    rule = break_the_credit_alert_rule()
    receive([alert_item(linked_person, error_code="REG-104")])
    services.notify(list(Alert.objects.values_list("id", flat=True)))
    assert mail.outbox == []

    change = reverse("admin:alerts_notificationrule_change", args=[rule.pk])
    form = {
        "alert_type": "ACCALERT",
        "active": "on",
        "notify_crs_user": "on",
        "notify_assigned_officer": "on",
        "addresses": "",
        "subject_template": "Credit alert",
        "body_template": "Code {{ alert.error_code }}",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(change, form, follow=True)

    assert "being made again" in response.text
    assert sorted(m.to[0] for m in mail.outbox) == ["bob@somecompany.com", "officer@lender.example"]
    assert {m.body for m in mail.outbox} == {"Code REG-104"}
    assert {(n.status, n.attempts) for n in Notification.objects.all()} == {("sent", 1)}
    assert client.get("/healthz/").json()["warnings"] == []


# --- Each email sent once -----------------------------------------------------------------------


def test_a_notification_claimed_by_another_sender_is_left_to_it(linked_person):
    receive([alert_item(linked_person)])
    alert = Alert.objects.get()
    for recipient in ["bob@somecompany.com", "officer@lender.example"]:
        Notification.objects.create(
            alert=alert,
            recipient=recipient,
            subject="s",
            body="b",
            status="sending",
            claimed_at=timezone.now(),
            attempts=1,
        )

    assert services.notify([alert.pk]) == 0

    assert mail.outbox == []
    assert Alert.objects.get().processed_at is None  # the sweep looks again
    assert set(Notification.objects.values_list("status", flat=True)) == {"sending"}


def test_a_claim_left_by_a_crashed_sender_is_taken_again_after_the_timeout(settings, linked_person):
    settings.EMAIL_TIMEOUT = 10
    receive([alert_item(linked_person)])
    alert = Alert.objects.get()
    stale = timezone.now() - services.claim_timeout() - timedelta(seconds=1)
    Notification.objects.create(
        alert=alert,
        recipient="bob@somecompany.com",
        subject="s",
        body="b",
        status="sending",
        claimed_at=stale,
        attempts=1,
    )

    assert services.notify([alert.pk]) == 2

    assert sorted(m.to[0] for m in mail.outbox) == ["bob@somecompany.com", "officer@lender.example"]
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 2), ("sent", 1)}
    assert Alert.objects.get().processed_at is not None


def test_the_claim_timeout_follows_the_mail_timeout(settings):
    settings.EMAIL_TIMEOUT = 30
    assert services.claim_timeout() == timedelta(minutes=3)
    settings.EMAIL_TIMEOUT = 2
    assert services.claim_timeout() == timedelta(minutes=1)


@pytest.mark.integration  # PostgreSQL: concurrent writers (SQLite's test database locks tables)
@pytest.mark.django_db(transaction=True)
def test_two_senders_at_the_same_time_send_each_email_once(settings, linked_person):
    # The task and the sweep, say: each its own thread and database connection, the same alerts.
    # The mail backend holds each at its first email until the other has reached one or finished.
    settings.EMAIL_BACKEND = "alerts.tests.mail.RendezvousBackend"
    RENDEZVOUS.arrived.clear()
    NotificationRule.objects.update_or_create(  # a transactional test before may have emptied them
        alert_type="ACCALERT",
        defaults={
            "notify_crs_user": True,
            "notify_assigned_officer": True,
            "body_template": "{{ alert.id }}",
        },
    )
    delivery = AlertDelivery.objects.create(body=b"[]")
    alert_ids = [
        Alert.objects.create(
            id=uuid.uuid4(),
            delivery=delivery,
            type="ACCALERT",
            user=linked_person,
            received_at=timezone.now(),
        ).pk
        for _ in range(3)
    ]
    sent, errors = [], []

    def sender():
        try:
            sent.append(services.notify(alert_ids))
        except Exception as exc:
            errors.append(exc)
        finally:
            RENDEZVOUS.arrive(wait=False)
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    emails = sorted((m.to[0], m.body) for m in mail.outbox)
    assert len(emails) == 6 == len(set(emails)) == sum(sent), emails
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}
    services.notify(alert_ids)  # as the sweep does for an alert each saw the other sending
    assert len(mail.outbox) == 6
    assert not Alert.objects.filter(processed_at=None).exists()
