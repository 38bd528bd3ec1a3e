"""Pulling CRF leads from Azure Storage (`leads.pull`), against a real Azurite: from what the
queue or container holds to what the database keeps."""

import base64
import json
import logging
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.views.debug import get_default_exception_reporter_filter

from leadcrm import logs
from leads.choices import DeliveryOutcome, DeliverySource
from leads.models import LeadDelivery, PulledBlob, PullRun
from leads.pull import blobs, sas
from leads.pull import queue as queues
from leads.pull import runs as pull
from leads.pull import tasks as pull_tasks

pytestmark = pytest.mark.django_db

QUEUE, BLOB = DeliverySource.AZURE_QUEUE, DeliverySource.AZURE_BLOB


@pytest.fixture
def lead(sample_lead):
    """A variation of the sample lead with an id of its own, as bytes."""

    def make(**changes) -> bytes:
        return json.dumps({**sample_lead, "id": str(uuid.uuid4()), **changes}).encode()

    return make


@pytest.fixture
def azure_settings(settings):
    settings.CRF_AZURE_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CRF_AZURE_VISIBILITY_TIMEOUT = 30
    settings.CRF_AZURE_BLOB_DELETE = False
    settings.CRF_AZURE_QUEUE_URL = settings.CRF_AZURE_BLOB_URL = ""
    return settings


@pytest.fixture
def queue(azurite, azure_settings):
    """A fresh queue, CRF_AZURE_QUEUE_URL pointing at it with a read + process SAS."""
    client = azurite.new_queue()
    azure_settings.CRF_AZURE_QUEUE_URL = azurite.queue_sas_url(client.queue_name)
    yield client
    client.delete_queue()


@pytest.fixture
def container(azurite, azure_settings):
    """A fresh container, CRF_AZURE_BLOB_URL pointing at it with a read + list + delete SAS."""
    client = azurite.new_container()
    azure_settings.CRF_AZURE_BLOB_URL = azurite.container_sas_url(client.container_name, "rld")
    yield client
    client.delete_container()


def left_in(queue) -> int:
    return queue.get_queue_properties().approximate_message_count


def deliveries(source: str = QUEUE):
    return LeadDelivery.objects.filter(source=source).order_by("id")


def signature(url: str) -> str:
    return parse_qs(urlsplit(url).query)["sig"][0]


# --- SAS URLs -------------------------------------------------------------------------------

AZURE_QUEUE = (
    "https://mystorageaccount.queue.core.windows.net/my-leads-queue/messages"
    "?sp=rp&st=2021-03-30T17:46:08Z&se=2030-01-01T17:46:00Z&sv=2020-02-10&sig=c2VjcmV0%2B%3D"
)


def test_a_crf_style_queue_url_is_used_without_its_messages_suffix():
    parsed = sas.parse(AZURE_QUEUE)

    assert urlsplit(parsed.url).path == "/my-leads-queue"
    assert parsed.resource == "mystorageaccount/my-leads-queue"
    assert parsed.permissions == "rp"
    assert parsed.expires_at == datetime(2030, 1, 1, 17, 46, tzinfo=UTC)


def test_an_emulator_url_keeps_its_account_and_a_queue_named_messages():
    emulator = "http://127.0.0.1:10001/devstoreaccount1/messages?se=2030-01-01&sp=rp&sig=abc"

    parsed = sas.parse(emulator, allowed_hosts=["127.0.0.1"])

    assert parsed.resource == "devstoreaccount1/messages"
    assert parsed.expires_at == datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/q?sp=rp&sig=abc",
        "https://core.windows.net.example.com/q?sp=rp&sig=abc",
        "http://mystorageaccount.queue.core.windows.net/q?sp=rp&sig=abc",
        "http://127.0.0.1:10001/devstoreaccount1/q?sp=rp&sig=abc",
        "https://mystorageaccount.queue.core.windows.net/q?sp=rp",
    ],
)
def test_a_url_that_is_not_https_on_azure_or_has_no_signature_is_refused(url):
    with pytest.raises(sas.UnsafeSasUrl) as refused:
        sas.parse(url)
    assert "abc" not in str(refused.value)


def test_the_signature_is_redacted_however_it_is_quoted():
    text = f"GET {AZURE_QUEUE} (inner: https%3A%2F%2Fx%3Fsp%3Da%26sig%3Dc2VjcmV0)"

    redacted = logs.redact(text)

    assert "c2VjcmV0" not in redacted
    assert "sig=REDACTED" in redacted and "sig%3DREDACTED" in redacted
    assert "se=2030-01-01T17:46:00Z" in redacted


def test_the_log_filter_takes_signatures_out_of_messages_and_tracebacks():
    try:
        raise ConnectionError(f"cannot reach {AZURE_QUEUE}")
    except ConnectionError:
        record = logging.LogRecord(
            "urllib3", logging.DEBUG, __file__, 1, "GET %s", (AZURE_QUEUE,), sys.exc_info()
        )

    logs.RedactSignatures().filter(record)

    assert "c2VjcmV0" not in logging.Formatter().format(record)


def test_an_expiry_within_thirty_days_is_a_warning_and_a_later_one_is_not():
    parsed = sas.parse(AZURE_QUEUE)  # expires 2030-01-01 17:46 UTC

    assert sas.expiry_warning("X", parsed, datetime(2029, 11, 1, tzinfo=UTC)) is None
    soon = sas.expiry_warning("X", parsed, datetime(2029, 12, 20, tzinfo=UTC))
    assert "expires on 2030-01-01 17:46 UTC (in 12 days)" in soon
    assert "expired" in sas.expiry_warning("X", parsed, datetime(2030, 2, 1, tzinfo=UTC))


def test_the_console_log_handler_and_error_reports_take_the_signature_out(settings):
    settings.CRF_AZURE_QUEUE_URL = AZURE_QUEUE
    console = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, logs.RedactSignatures) for f in handler.filters)
    ]

    reported = get_default_exception_reporter_filter().get_safe_settings()

    assert console, "the console handler has no RedactSignatures filter"
    assert "c2VjcmV0" not in reported["CRF_AZURE_QUEUE_URL"]
    assert "c2VjcmV0" not in repr(sas.parse(AZURE_QUEUE))


# --- Message bodies and blob contents ---------------------------------------------------------


def test_a_message_is_plain_json_or_base64_encoded_json():
    body = b'{"id": "x"}'

    assert queues.decode_message(body.decode()) == (body, "plain")
    assert queues.decode_message(base64.b64encode(body).decode()) == (body, "base64")
    with pytest.raises(queues.Undecodable):
        queues.decode_message("not json, not base64!")
    with pytest.raises(queues.Undecodable):
        queues.decode_message(base64.b64encode(b"\xff\x00 binary").decode())


def test_each_lead_of_a_blob_array_keeps_its_bytes_as_they_came():
    blob = b'[ {"id": 1, "amount": 25000.10},\n{"id": "\\u00e9", "x": [1, {"y": "]"}]} ]'

    assert blobs.split_leads(blob) == [
        b'{"id": 1, "amount": 25000.10}',
        b'{"id": "\\u00e9", "x": [1, {"y": "]"}]}',
    ]
    assert blobs.split_leads(b'{"id": 1}') == [b'{"id": 1}']
    assert blobs.split_leads(b"[]") == []
    assert blobs.split_leads(b"[1, oops") == [b"[1, oops"]  # kept whole, rejected by the intake


# --- Queue ----------------------------------------------------------------------------------


def test_plain_and_base64_messages_become_deliveries_and_leave_the_queue(queue, lead):
    plain, encoded = lead(), lead()
    queue.send_message(plain.decode())
    queue.send_message(base64.b64encode(encoded).decode())

    run = pull.pull(QUEUE)

    assert [bytes(d.body) for d in deliveries()] == [plain, encoded]
    assert [d.headers["azure-body-encoding"] for d in deliveries()] == ["plain", "base64"]
    assert set(deliveries().values_list("outcome", flat=True)) == {DeliveryOutcome.PENDING}
    assert left_in(queue) == 0
    assert (run.taken, run.rejected, run.failed, run.pending, run.error) == (2, 0, 0, 0, "")
    assert run.target == f"devstoreaccount1/{queue.queue_name}" and run.finished_at


def test_a_pulled_delivery_records_its_message_and_never_the_sas(queue, lead, azure_settings):
    message = queue.send_message(lead().decode())

    pull.pull(QUEUE)

    delivery = deliveries().get()
    headers = delivery.headers
    assert delivery.queue_message_id == message.id
    assert headers["azure-message-id"] == message.id
    assert headers["azure-dequeue-count"] == "1"
    assert headers["azure-queue"] == f"devstoreaccount1/{queue.queue_name}"
    assert signature(azure_settings.CRF_AZURE_QUEUE_URL) not in json.dumps(headers)


def test_a_crf_style_messages_url_with_a_read_and_process_sas_is_pulled(
    azurite, queue, lead, azure_settings
):
    url = azurite.queue_sas_url(queue.queue_name, "rp", crf_style=True)
    azure_settings.CRF_AZURE_QUEUE_URL = url
    assert urlsplit(azure_settings.CRF_AZURE_QUEUE_URL).path.endswith("/messages")
    queue.send_message(lead().decode())

    run = pull.pull(QUEUE)

    assert (run.taken, run.error, left_in(queue)) == (1, "", 0)


def test_crfs_add_only_sas_cannot_read_and_the_run_says_why(azurite, queue, lead, azure_settings):
    url = azurite.queue_sas_url(queue.queue_name, "a", crf_style=True)  # what CRF holds
    azure_settings.CRF_AZURE_QUEUE_URL = url
    queue.send_message(lead().decode())

    run = pull.pull(QUEUE)

    assert run.taken == 0 and not deliveries().exists()
    assert run.error.startswith("AuthorizationPermissionMismatch")
    assert "read + process" in run.error
    assert left_in(queue) == 1  # nothing lost


def test_an_undecodable_message_is_kept_as_rejected_and_does_not_block_the_queue(queue, lead):
    good = lead()
    queue.send_message("<<this is no lead>>")
    queue.send_message(good.decode())

    run = pull.pull(QUEUE)

    rejected, taken = deliveries()
    assert bytes(rejected.body) == b"<<this is no lead>>"
    assert rejected.outcome == DeliveryOutcome.REJECTED
    assert "neither JSON nor base64" in rejected.error
    assert bytes(taken.body) == good and taken.outcome == DeliveryOutcome.PENDING
    assert (run.taken, run.rejected, left_in(queue)) == (1, 1, 0)


def test_json_that_is_not_a_lead_is_rejected_by_the_intake_as_a_webhook_would_be(queue):
    queue.send_message('{"status": "Matched"}')

    run = pull.pull(QUEUE)

    assert deliveries().get().outcome == DeliveryOutcome.REJECTED
    assert (run.rejected, left_in(queue)) == (1, 0)


def test_a_message_that_came_back_five_times_is_set_aside_as_poison(queue, lead):
    body = lead()
    queue.send_message(body.decode())
    for _ in range(queues.POISON_AFTER):  # taken five times, never deleted: a puller kept dying
        [message] = queue.receive_messages(visibility_timeout=1, max_messages=1)
        time.sleep(1.1)

    run = pull.pull(QUEUE)

    poison = deliveries().get()
    assert poison.outcome == DeliveryOutcome.REJECTED
    assert bytes(poison.body) == body
    assert poison.headers["azure-dequeue-count"] == "6"
    assert "poison" in poison.error
    assert (run.rejected, left_in(queue)) == (1, 0)


def test_a_message_taken_again_after_a_crash_before_its_deletion_is_stored_once(
    queue, lead, azure_settings, monkeypatch
):
    azure_settings.CRF_AZURE_VISIBILITY_TIMEOUT = 1
    queue.send_message(lead().decode())
    queue.send_message("<<undecodable>>")
    with monkeypatch.context() as crash:  # the puller dies after each commit, before deleting
        crash.setattr(queues, "_delete_message", lambda queue, message: None)
        first = pull.pull(QUEUE)
    time.sleep(1.5)  # the visibility timeout runs out: both messages are back

    second = pull.pull(QUEUE)

    assert deliveries().count() == 2
    assert (first.taken, first.rejected) == (1, 1)
    assert (second.taken, second.duplicates, second.rejected) == (0, 1, 1)
    assert left_in(queue) == 0


def test_a_rejected_message_taken_twice_is_stored_once_by_its_message_id(
    queue, azure_settings, monkeypatch
):
    azure_settings.CRF_AZURE_VISIBILITY_TIMEOUT = 1
    message = queue.send_message("<<undecodable>>")
    with monkeypatch.context() as crash:
        crash.setattr(queues, "_delete_message", lambda queue, message: None)
        pull.pull(QUEUE)
    time.sleep(1.5)
    # Nothing but the column names the message: a header edited by hand changes nothing.
    LeadDelivery.objects.update(headers={})

    again = pull.pull(QUEUE)

    rejected = deliveries().get()
    assert rejected.queue_message_id == message.id
    assert (again.rejected, again.failed, left_in(queue)) == (1, 0, 0)


def test_two_messages_with_the_same_lead_and_bytes_are_one_delivery_and_both_leave(queue, lead):
    body = lead()
    first = queue.send_message(body.decode())
    queue.send_message(body.decode())  # CRF sent the lead twice: two messages, two ids

    run = pull.pull(QUEUE)

    assert deliveries().get().queue_message_id == first.id
    assert (run.taken, run.duplicates, left_in(queue)) == (1, 1, 0)


def test_two_messages_with_the_same_bytes_that_are_no_lead_are_two_rejected_deliveries(queue):
    first = queue.send_message("<<undecodable>>")
    second = queue.send_message("<<undecodable>>")

    run = pull.pull(QUEUE)

    assert [d.queue_message_id for d in deliveries()] == [first.id, second.id]
    assert (run.rejected, left_in(queue)) == (2, 0)


def test_a_message_stored_as_a_lead_and_later_set_aside_as_poison_stays_one_delivery(
    queue, lead, azure_settings, monkeypatch
):
    azure_settings.CRF_AZURE_VISIBILITY_TIMEOUT = 1
    body = lead()
    queue.send_message(body.decode())
    with monkeypatch.context() as crash:  # stored, never deleted
        crash.setattr(queues, "_delete_message", lambda queue, message: None)
        pull.pull(QUEUE)
    for _ in range(queues.POISON_AFTER - 1):  # … and taken again until it counts as poison
        time.sleep(1.1)
        queue.receive_messages(visibility_timeout=1, max_messages=1).next()
    time.sleep(1.1)

    pull.pull(QUEUE)

    stored = deliveries().get()
    assert (bytes(stored.body), stored.outcome) == (body, DeliveryOutcome.PENDING)
    assert left_in(queue) == 0


def test_a_url_with_a_foreign_host_is_refused_and_never_contacted(azure_settings, caplog):
    azure_settings.CRF_AZURE_QUEUE_URL = "https://leads.example.com/q/messages?sp=rp&sig=s3cr3t"

    run = pull.pull(QUEUE)

    assert run.target == "" and run.taken == 0
    assert "CRF_AZURE_QUEUE_URL is refused" in run.error and "leads.example.com" in run.error
    assert "s3cr3t" not in run.error + caplog.text


def test_the_signature_never_reaches_logs_or_runs_even_at_debug_level(
    queue, lead, azure_settings, caplog
):
    caplog.set_level(logging.DEBUG)
    queue.send_message(lead().decode())
    pull.pull(QUEUE)
    queue.delete_queue()  # the next run fails: its error must not carry the URL either
    failed = pull.pull(QUEUE)
    queue.create_queue()  # for the fixture's cleanup

    secret = signature(azure_settings.CRF_AZURE_QUEUE_URL)
    assert failed.error.startswith("QueueNotFound")
    assert secret not in caplog.text
    assert not PullRun.objects.filter(error__contains=secret).exists()


# --- Blob container -------------------------------------------------------------------------


def test_each_blob_is_one_lead_or_an_array_of_leads_and_is_taken_once(container, lead):
    one, first, second = lead(), lead(), lead()
    container.upload_blob("one.json", one)
    container.upload_blob("batch.json", b"[" + first + b",\n" + second + b"]")

    run = pull.pull(BLOB)
    again = pull.pull(BLOB)

    stored = {bytes(d.body): d.headers for d in deliveries(BLOB)}
    assert set(stored) == {one, first, second}
    assert stored[second]["azure-blob"] == "batch.json"
    assert stored[second]["azure-blob-item"] == "2 of 2"
    assert (run.taken, run.pending, again.taken, again.duplicates) == (3, 0, 0, 0)
    ledger = set(PulledBlob.objects.values_list("name", "leads"))
    assert ledger == {("one.json", 1), ("batch.json", 2)}
    assert len(list(container.list_blobs())) == 2  # CRF_AZURE_BLOB_DELETE is off


def test_the_listing_is_followed_page_after_page(container, lead, monkeypatch):
    monkeypatch.setattr(blobs, "BLOB_PAGE_SIZE", 7)
    for i in range(20):
        container.upload_blob(f"lead-{i:02}.json", lead())

    run = pull.pull(BLOB)

    assert run.taken == 20 and deliveries(BLOB).count() == 20


def test_blobs_are_deleted_after_commit_only_when_configured(container, lead, azure_settings):
    azure_settings.CRF_AZURE_BLOB_DELETE = True
    container.upload_blob("a.json", lead())

    run = pull.pull(BLOB)

    assert run.taken == 1
    assert list(container.list_blobs()) == []
    assert PulledBlob.objects.get().deleted_at is not None


def test_a_deletion_refused_by_the_sas_is_tried_again_once_the_permission_is_there(
    azurite, container, lead, azure_settings
):
    azure_settings.CRF_AZURE_BLOB_DELETE = True
    azure_settings.CRF_AZURE_BLOB_URL = azurite.container_sas_url(container.container_name, "rl")
    container.upload_blob("a.json", lead())
    pull.pull(BLOB)
    assert len(list(container.list_blobs())) == 1 and PulledBlob.objects.get().deleted_at is None

    azure_settings.CRF_AZURE_BLOB_URL = azurite.container_sas_url(container.container_name, "rld")
    again = pull.pull(BLOB)

    assert again.taken == 0 and deliveries(BLOB).count() == 1
    assert list(container.list_blobs()) == []


def test_a_blob_rewritten_after_it_was_taken_is_taken_again(container, lead):
    container.upload_blob("lead.json", lead())
    pull.pull(BLOB)
    container.upload_blob("lead.json", lead(), overwrite=True)

    run = pull.pull(BLOB)

    assert run.taken == 1 and deliveries(BLOB).count() == 2
    assert PulledBlob.objects.filter(name="lead.json").count() == 2


def test_a_blob_that_is_not_json_is_kept_as_a_rejected_delivery(container):
    container.upload_blob("notes.txt", b"call me maybe")

    run = pull.pull(BLOB)

    rejected = deliveries(BLOB).get()
    assert (bytes(rejected.body), rejected.outcome) == (b"call me maybe", DeliveryOutcome.REJECTED)
    assert (run.rejected, run.pending) == (1, 0)


# --- Health, admin, command, task ------------------------------------------------------------


def test_an_expiring_sas_is_warned_about_on_healthz_and_in_the_admin(
    azurite, queue, azure_settings, admin_client
):
    expiry = datetime.now(UTC) + timedelta(days=10, hours=1)
    azure_settings.CRF_AZURE_QUEUE_URL = azurite.queue_sas_url(queue.queue_name, "rp", expiry)

    health = admin_client.get("/healthz/").json()
    page = admin_client.get(reverse("admin:leads_pullrun_changelist"))

    [warning] = health["warnings"]
    assert "CRF_AZURE_QUEUE_URL" in warning and "(in 10 days)" in warning
    assert health["status"] == "warning"
    assert warning in page.content.decode()
    assert signature(azure_settings.CRF_AZURE_QUEUE_URL) not in page.content.decode()


def test_a_sas_far_from_expiry_gives_no_warning(queue, admin_client):
    assert admin_client.get("/healthz/").json()["warnings"] == []


def test_the_admin_shows_the_last_runs_and_what_is_pending(queue, container, lead, admin_client):
    queue.send_message(lead().decode())
    queue.send_message("<<undecodable>>")
    pull.pull(QUEUE)
    queue.send_message(lead().decode())  # arrives after the run
    pull.pull(BLOB)

    page = admin_client.get(reverse("admin:leads_pullrun_changelist"))

    assert [r.source for r in page.context["cl"].result_list] == [BLOB, QUEUE]
    sources = {s["source"]: s for s in page.context["pull_sources"]}
    assert sources[QUEUE]["deliveries_pending"] == 1
    assert sources[QUEUE]["deliveries_rejected"] == 1
    assert sources[QUEUE]["last_run"].pending == 0
    assert sources[BLOB]["resource"] == f"devstoreaccount1/{container.container_name}"
    assert "Azure sources" in page.content.decode()


def test_a_failed_pull_is_a_health_warning(azurite, queue, azure_settings, client):
    azure_settings.CRF_AZURE_QUEUE_URL = azurite.queue_sas_url(queue.queue_name, "a")
    pull.pull(QUEUE)

    [warning] = client.get("/healthz/").json()["warnings"]

    assert "pull" in warning and "AuthorizationPermissionMismatch" in warning


def test_the_command_pulls_every_configured_source(queue, container, lead):
    queue.send_message(lead().decode())
    container.upload_blob("a.json", lead())
    out = StringIO()

    call_command("pull_crf_leads", stdout=out)

    assert "Azure queue" in out.getvalue() and "Azure blob" in out.getvalue()
    assert deliveries(QUEUE).count() == deliveries(BLOB).count() == 1


def test_the_command_fails_loudly_when_a_pull_fails_or_a_source_is_missing(
    azurite, queue, azure_settings
):
    azure_settings.CRF_AZURE_QUEUE_URL = azurite.queue_sas_url(queue.queue_name, "a")
    with pytest.raises(CommandError, match="A pull failed"):
        call_command("pull_crf_leads", "--queue", stdout=StringIO())
    with pytest.raises(CommandError, match="CRF_AZURE_BLOB_URL is not set"):
        call_command("pull_crf_leads", "--blob", stdout=StringIO())


def test_the_command_says_so_when_nothing_is_configured(azure_settings):
    out = StringIO()

    call_command("pull_crf_leads", stdout=out)

    assert "Nothing to pull" in out.getvalue() and not PullRun.objects.exists()


def test_the_scheduled_task_does_nothing_when_no_source_is_configured(
    azure_settings, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert pull_tasks.pull_crf_leads() == 0
    assert not PullRun.objects.exists()


def test_the_scheduled_task_pulls_the_configured_sources(queue, lead):
    queue.send_message(lead().decode())

    assert pull_tasks.pull_crf_leads() == 1
    assert PullRun.objects.get().source == QUEUE
