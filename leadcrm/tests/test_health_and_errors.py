import socket

import pytest
from django.db import OperationalError, connection

from leadcrm.webhooks import secret_matches

pytestmark = pytest.mark.django_db


def test_health_is_ok_when_the_database_answers(client):
    response = client.get("/healthz/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["lead_deliveries"] == {"pending": 0, "oldest_pending_seconds": 0, "failed": 0}


def test_health_is_503_when_the_database_does_not_answer(client):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(refuse):
        response = client.get("/healthz/")

    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert response["Retry-After"] == "30"


def test_health_is_503_with_retry_after_when_the_broker_does_not_answer(
    client, settings, monkeypatch
):
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Celery reads the variable before its own setting, at every connection.
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{port}/0")

    response = client.get("/healthz/")

    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"
    assert response["Retry-After"] == "30"


def test_a_healthy_answer_asks_nobody_to_retry(client):
    assert "Retry-After" not in client.get("/healthz/")


def test_webhook_paths_answer_json_even_for_unknown_addresses(client):
    response = client.get("/webhooks/nowhere/")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_other_paths_keep_html_error_pages(client):
    response = client.get("/nowhere/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("supplied", "accepted", "expected"),
    [
        ("new", ["old", "new"], True),
        ("old", ["old", "new"], True),
        ("other", ["old", "new"], False),
        ("", ["old"], False),
        (None, ["old"], False),
        ("", [""], False),
        ("héllo", ["héllo"], True),
    ],
)
def test_secrets_are_compared_against_every_accepted_value(supplied, accepted, expected):
    assert secret_matches(supplied, accepted) is expected


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_other_methods_on_healthz_are_a_json_405(client, method):
    response = getattr(client, method)("/healthz/")

    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert response.json()["error"] == "method_not_allowed"
