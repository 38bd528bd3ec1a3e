"""A webhook's request skips the middleware made for people's pages (`WebhookMiddleware`) and
keeps what protects it: the security middleware before it, the host check, Django's answer to
an error."""

import logging

import pytest
from django.test import Client

from alerts.models import AlertDelivery
from conftest import CRF_URL
from leads.intake import services
from leads.models import LeadDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["crf", "crs"])
def post(request, post_lead, post_alerts, sample_lead, sample_batch):
    if request.param == "crf":
        return lambda **extra: post_lead(sample_lead, **extra)
    return lambda **extra: post_alerts(sample_batch, **extra)


def test_a_webhook_answer_skips_the_pages_middleware_and_keeps_the_security_headers(post):
    response = post()

    assert response.status_code in (200, 202)
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware, before it
    assert response["Referrer-Policy"] == "same-origin"
    assert "X-Frame-Options" not in response  # XFrameOptionsMiddleware, after it
    assert not response.cookies  # nor sessions nor CSRF
    names = ("crf-leads-webhook", "crs-alerts-webhook")
    assert response.wsgi_request.resolver_match.view_name in names


def test_a_page_still_goes_through_every_middleware(client):
    response = client.get("/admin/login/")

    assert response["X-Frame-Options"] == "DENY"
    assert "csrftoken" in response.cookies


def test_a_webhook_on_plain_http_is_redirected_when_https_is_required(post, settings):
    settings.SECURE_SSL_REDIRECT = True

    response = post()

    assert response.status_code == 301
    assert response["Location"].startswith("https://")
    assert not (LeadDelivery.objects.exists() or AlertDelivery.objects.exists())


def test_a_webhook_for_a_host_not_allowed_is_400_and_keeps_nothing(post, settings):
    settings.ALLOWED_HOSTS = ["leads.lender.example"]

    response = post(HTTP_HOST="attacker.example")

    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert not (LeadDelivery.objects.exists() or AlertDelivery.objects.exists())
    assert post(HTTP_HOST="leads.lender.example").status_code in (200, 202)


def test_an_error_in_a_webhook_is_a_logged_json_500(crf_secret, sample_lead, monkeypatch, caplog):
    def fail(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(services, "receive_lead", fail)
    client = Client(raise_request_exception=False)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.post(
            CRF_URL, sample_lead, content_type="application/json", HTTP_X_API_KEY=crf_secret
        )

    assert response.status_code == 500
    assert response.json()["error"] == "server_error"
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)


def test_an_address_no_webhook_answers_is_a_json_404(client):
    response = client.post("/webhooks/crf/nowhere/")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
