"""Notification rules: who hears of an alert, once, and what happens when mail fails."""

import json
import socket
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from alerts import services, tasks
from alerts.models import Alert, Notification, NotificationRule

pytestmark = pytest.mark.django_db


def alert_item(person, alert_type="ACCALERT", **fields) -> dict:
    return {"id": str(uuid.uuid4()), "type": alert_type, "user_id": str(person.id), "time": 1763784000,
            "alert_source": "Equifax", **fields}


def receive(items) -> None:
    services.receive_alerts(json.dumps(items).encode())


def test_a_fresh_install_has_rules_for_alerts_a_person_must_act_on():
    rules = {r.alert_type: (r.notify_crs_user, r.notify_assigned_officer) for r in NotificationRule.objects.all()}
    assert rules == {
        "ACCALERT": (True, True), "IDFAIL": (False, True), "ACCREGFAIL": (False, True), "ACCLOCKED": (False, True),
    }


def test_a_credit_alert_reaches_the_person_and_their_loan_officer(linked_person, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        receive([alert_item(linked_person)])

    assert sorted(m.to[0] for m in mail.outbox) == ["bob@somecompany.com", "officer@lender.example"]
    assert mail.outbox[0].subject == "Credit alert: Account alert (credit)"
    assert "Bob Lastnameson" in mail.outbox[0].body and "Equifax" in mail.outbox[0].body
    assert Alert.objects.get().processed_at is not None
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_test_alerts_are_recorded_and_never_notify_anyone(linked_person, django_capture_on_commit_callbacks):
    NotificationRule.objects.create(alert_type="TEST", notify_crs_user=True, addresses="ops@lender.example")
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
        notify_crs_user=False, notify_assigned_officer=False, addresses="risk@lender.example, officer@lender.example",
        subject_template="{{ alert.alert_source }} reported {{ type_label }}",
        body_template="Lead: {{ lead.name_of_business }} <{{ user.email }}>",
    )
    receive([alert_item(linked_person)])
    services.notify(list(Alert.objects.values_list("id", flat=True)))

    assert sorted(m.to[0] for m in mail.outbox) == ["officer@lender.example", "risk@lender.example"]
    assert mail.outbox[0].subject == "Equifax reported Account alert (credit)"
    assert mail.outbox[0].body == "Lead: Some Company LLC. <bob@somecompany.com>"  # not HTML-escaped


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
