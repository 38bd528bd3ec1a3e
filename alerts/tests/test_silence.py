"""A missing nightly CRS batch is an incident: /healthz/ says so, and the managers hear once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from alerts import services
from alerts.models import AlertDelivery, SilenceIncident

pytestmark = pytest.mark.django_db


@pytest.fixture
def managers(settings, crs_credentials):
    settings.MANAGERS = ["manager@lender.example"]
    settings.CRS_EXPECTED_BATCH_HOURS = 26
    return settings.MANAGERS


def batch_received(hours_ago: float) -> None:
    delivery = services.receive_alerts(b"[]").delivery
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        received_at=timezone.now() - timedelta(hours=hours_ago)
    )


def test_a_recent_batch_is_no_incident(client, managers):
    batch_received(hours_ago=3)

    assert client.get("/healthz/").json()["warnings"] == []
    assert services.watch_silence() is False
    assert mail.outbox == []


def test_silence_past_the_expected_hours_is_reported_and_mailed_once(client, managers):
    batch_received(hours_ago=30)

    health = client.get("/healthz/")
    assert health.status_code == 200
    assert health.json()["status"] == "warning"
    assert health.json()["warnings"] == [health.json()["warnings"][0]]
    assert health.json()["warnings"][0].startswith("No CRS batch for 30 hours")

    assert services.watch_silence() is True
    assert services.watch_silence() is False  # the next beat run: same silence, no second email
    assert [m.to for m in mail.outbox] == [["manager@lender.example"]]
    assert "no CRS batch since" in mail.outbox[0].subject
    assert SilenceIncident.objects.count() == 1


def test_a_new_silence_after_a_batch_is_a_new_incident(managers):
    batch_received(hours_ago=60)
    services.watch_silence()
    batch_received(hours_ago=27)  # a batch came, then CRS went quiet again

    assert services.watch_silence() is True
    assert len(mail.outbox) == 2


def test_without_crs_credentials_there_is_nothing_to_watch(client, settings, managers):
    batch_received(hours_ago=100)
    settings.CRS_WEBHOOK_PASSWORD = ""

    assert client.get("/healthz/").json()["warnings"] == []
    assert services.watch_silence() is False


def test_without_managers_the_active_superusers_hear_of_it(
    settings, crs_credentials, django_user_model
):
    settings.MANAGERS = []
    django_user_model.objects.create_superuser("boss", "boss@lender.example", "x")
    batch_received(hours_ago=30)

    assert services.watch_silence() is True
    assert mail.outbox[0].to == ["boss@lender.example"]
