"""Both webhooks under the production server (gunicorn, PostgreSQL, a real worker), sent what a
partner's HTTP client really sends: chunked bodies, oversized ones on a kept-alive connection,
odd bytes in the credentials."""

import base64
import http.client
import json
import socket
import uuid
from urllib.parse import urlsplit

import pytest
from django.db import connection

from alerts.models import Alert, AlertDelivery
from conftest import CRF_URL, CRS_URL
from leads.models import Lead, LeadDelivery

from .conftest import gunicorn, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "gunicorn-test-secret"
CRS_USER, CRS_PASSWORD = "crs-user", "crs-password"
BASIC = "Basic " + base64.b64encode(f"{CRS_USER}:{CRS_PASSWORD}".encode()).decode()


@pytest.fixture(scope="module", params=["sync", "gthread"])
def server(request, service_env):
    """gunicorn as production runs it (sync workers), and with threads, whose connections are
    kept alive between requests."""
    env = {
        **service_env,
        "CRF_WEBHOOK_SECRET": SECRET,
        "CRS_WEBHOOK_USERNAME": CRS_USER,
        "CRS_WEBHOOK_PASSWORD": CRS_PASSWORD,
    }
    threads = ["--threads", "4"] if request.param == "gthread" else []  # >1 would make sync gthread
    with gunicorn(
        env, "--worker-class", request.param, *threads, "--access-logfile", "/dev/null"
    ) as url:
        yield urlsplit(url).port


def chunked_post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    """As .NET's HttpClient sends JSON content: Transfer-Encoding: chunked, no Content-Length."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    pieces = (body[i : i + 4096] for i in range(0, len(body), 4096))
    connection.request("POST", path, body=pieces, headers=headers, encode_chunked=True)
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def test_a_chunked_lead_is_read_whole_stored_and_processed(server, celery_worker, sample_lead):
    body = json.dumps(sample_lead).encode()

    status, answer = chunked_post(server, CRF_URL, body, {"X-Api-Key": SECRET})

    assert (status, answer["id"]) == (202, sample_lead["id"])
    delivery = LeadDelivery.objects.get(pk=answer["delivery"])
    assert bytes(delivery.body) == body
    wait_until(lambda: LeadDelivery.objects.filter(pk=delivery.pk, outcome="processed").exists())
    assert Lead.objects.get(pk=sample_lead["id"]).name_of_business == sample_lead["nameOfBusiness"]


def test_a_chunked_batch_is_read_whole_and_answered_item_by_item(server, sample_batch):
    status, answer = chunked_post(
        server, CRS_URL, json.dumps(sample_batch).encode(), {"Authorization": BASIC}
    )

    assert status == 200
    assert answer == [{"hook_id": item["id"], "status": True} for item in sample_batch]
    assert Alert.objects.count() == len(sample_batch)


def test_a_chunked_body_past_the_limit_is_413_and_nothing_is_kept(server, sample_lead):
    body = json.dumps({**sample_lead, "otherReasonText": "x" * (1024 * 1024)}).encode()

    status, answer = chunked_post(server, CRF_URL, body, {"X-Api-Key": SECRET})

    assert (status, answer["error"]) == (413, "payload_too_large")
    assert LeadDelivery.objects.count() == 0


def _raw_exchange(port: int, data: bytes) -> bytes:
    """What the server sends back on one connection until it closes it; a reset is a failure."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):  # ConnectionResetError fails the test
            received += chunk
    return received


@pytest.mark.parametrize("size", [2 * 1024 * 1024, 6 * 1024 * 1024])
def test_after_a_413_the_connection_answers_or_closes_cleanly(server, size):
    """The refused body is read and thrown away (up to a bound) before the 413, so the server
    can take the next request on a kept-alive connection instead of resetting it."""
    oversized = (
        b"POST /webhooks/crf/leads/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: %s\r\n"
        b"Content-Length: %d\r\n\r\n" % (SECRET.encode(), size)
    )
    following = b"GET /healthz/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"

    received = _raw_exchange(server, oversized + b"x" * size + following)

    first, _, rest = received.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 413"), received[:200]
    closes = b"connection: close" in first.lower()
    assert closes or b"HTTP/1.1 200" in rest, received[:600]  # the next request was answered


@pytest.mark.parametrize(
    "authorization",
    ["Basic \xe9t\xe9", "Basic " + "\xff" * 20, "\xe9", "Bearer caf\xe9", "Basic Y3JzLXVzZXI6\xe9"],
)
@pytest.mark.parametrize("path", [CRF_URL, CRS_URL])
def test_non_ascii_credentials_are_401_json_and_store_nothing(server, path, authorization):
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    connection.putrequest("POST", path)
    connection.putheader("Authorization", authorization.encode("latin-1"))
    connection.putheader("X-Api-Key", authorization.encode("latin-1"))
    connection.putheader("Content-Length", "2")
    connection.endheaders(b"[]")
    response = connection.getresponse()

    assert response.status == 401
    assert json.loads(response.read())["error"] == "authentication_failed"
    assert LeadDelivery.objects.count() == AlertDelivery.objects.count() == 0


def test_no_header_that_may_carry_a_credential_is_stored_on_either_endpoint(
    server, celery_worker, sample_lead, sample_batch
):
    credentials = {
        "X-Forwarded-Authorization": "Bearer forwarded-" + uuid.uuid4().hex,
        "X-Partner-Api-Key": "apikey-" + uuid.uuid4().hex,
        "X-Amz-Security-Token": "token-" + uuid.uuid4().hex,
        "X-Hub-Signature-256": "sha256=" + uuid.uuid4().hex,
        "X-Client-Secret": "secret-" + uuid.uuid4().hex,
        "Cookie": "sessionid=" + uuid.uuid4().hex,
    }
    lead_headers = {"X-Api-Key": SECRET, "Authorization": BASIC, **credentials}
    batch_headers = {"Authorization": BASIC, "X-Api-Key": SECRET, **credentials}
    assert chunked_post(server, CRF_URL, json.dumps(sample_lead).encode(), lead_headers)[0] == 202
    assert chunked_post(server, CRS_URL, json.dumps(sample_batch).encode(), batch_headers)[0] == 200

    for delivery in [LeadDelivery.objects.get(), AlertDelivery.objects.get()]:
        stored = json.dumps(delivery.headers)
        for value in [*credentials.values(), SECRET, BASIC]:
            assert value not in stored
        assert "Transfer-Encoding" in delivery.headers
    wait_until(
        lambda: LeadDelivery.objects.filter(outcome="processed").exists()
    )  # before the flush


def test_deliveries_after_the_database_ended_every_connection_are_taken(
    server, celery_worker, sample_lead
):
    """As after a database restart or failover: each worker's kept connection is found ended
    and replaced before a delivery uses it, so no delivery is answered 503 for it."""

    def post_new_lead() -> int:
        body = json.dumps({**sample_lead, "id": str(uuid.uuid4())}).encode()
        return chunked_post(server, CRF_URL, body, {"X-Api-Key": SECRET})[0]

    assert [post_new_lead() for _ in range(6)] == [202] * 6  # each worker keeps a connection
    # The Celery worker idle first: a task cut off mid-way would leave its leads to the sweep.
    wait_until(lambda: not LeadDelivery.objects.exclude(outcome="processed").exists())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        ended = [pid for pid, _ in cursor.fetchall()]

    def gone() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [ended])
            return cursor.fetchone()[0] == 0

    wait_until(gone, message="the ended sessions to be gone")

    assert [post_new_lead() for _ in range(6)] == [202] * 6
    assert LeadDelivery.objects.count() == 12
    # Before the flush: a worker still applying them would deadlock with its TRUNCATE.
    wait_until(lambda: not LeadDelivery.objects.exclude(outcome="processed").exists())
