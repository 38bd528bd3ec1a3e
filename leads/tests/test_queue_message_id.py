"""A pulled queue message's id (`LeadDelivery.queue_message_id`): how the intake tells a message
taken again by it, what the admin shows and finds by it, and the migration that moved it out of
the stored headers."""

import json
import threading
import time
import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from leads.choices import DeliveryOutcome, DeliverySource
from leads.intake import services
from leads.models import LeadDelivery

QUEUE = DeliverySource.AZURE_QUEUE
MESSAGE_ID = "5974b586-0df3-4e2d-ad0c-18e3892bfca2"  # as Azure names a message: a GUID
BEFORE = ("leads", "0010_lead_restricted")
AFTER = ("leads", "0011_delivery_queue_message_id")
# PostgreSQL (a second writer waits on the row lock): with the integration tests, never a skip.
postgresql_only = pytest.mark.integration


@pytest.fixture
def lead(sample_lead):
    def make(**changes) -> bytes:
        return json.dumps({**sample_lead, "id": str(uuid.uuid4()), **changes}).encode()

    return make


def take(body: bytes, message_id: str | None = MESSAGE_ID) -> services.Receipt:
    return services.receive_lead(body, source=QUEUE, queue_message_id=message_id)


def reject(body: bytes, message_id: str | None = MESSAGE_ID) -> LeadDelivery:
    return services.reject_delivery(body, "undecodable", source=QUEUE, queue_message_id=message_id)


# --- The intake -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_intake_keeps_the_message_id_in_its_column_and_no_header(lead):
    receipt = take(lead())

    stored = LeadDelivery.objects.get()
    assert stored.queue_message_id == MESSAGE_ID and stored.headers == {}
    assert receipt.delivery == stored and not receipt.duplicate


@pytest.mark.django_db
def test_a_message_taken_again_is_the_delivery_stored_for_it_whatever_it_carries(lead):
    first = take(lead()).delivery

    again = take(lead())  # cannot happen for one message; the message id still decides

    assert again.duplicate and again.delivery == first
    assert LeadDelivery.objects.count() == 1


@pytest.mark.django_db
def test_a_lead_the_intake_rejected_is_found_by_its_message_id_when_taken_again():
    first = take(b'{"status": "Matched"}').delivery

    again = take(b'{"status": "Matched"}')

    assert again.invalid and again.delivery == first
    assert first.outcome == DeliveryOutcome.REJECTED and LeadDelivery.objects.count() == 1


@pytest.mark.django_db
def test_a_rejected_message_rejected_again_is_stored_once():
    first = reject(b"<<undecodable>>")

    assert reject(b"<<undecodable>>") == first
    assert LeadDelivery.objects.get().queue_message_id == MESSAGE_ID


@pytest.mark.django_db
def test_the_same_lead_and_bytes_under_another_message_id_are_a_duplicate(lead):
    body = lead()
    first = take(body).delivery

    again = take(body, message_id=str(uuid.uuid4()))

    assert again.duplicate and again.delivery == first
    assert LeadDelivery.objects.get().queue_message_id == MESSAGE_ID


@pytest.mark.django_db
def test_an_id_longer_than_a_guid_is_stored_and_recognised():
    long_id = "m" * 200  # Azure's are GUIDs; whatever else speaks its protocol may differ

    first = reject(b"<<undecodable>>", message_id=long_id)

    assert reject(b"<<undecodable>>", message_id=long_id) == first
    assert LeadDelivery.objects.get().queue_message_id == long_id


@pytest.mark.django_db
@pytest.mark.parametrize("no_id", [None, ""])
def test_rejected_bodies_without_a_message_id_are_each_stored(no_id):
    reject(b"<<undecodable>>", message_id=no_id)
    reject(b"<<undecodable>>", message_id=no_id)

    assert list(LeadDelivery.objects.values_list("queue_message_id", flat=True)) == [None, None]


@pytest.mark.django_db
def test_a_webhook_delivery_has_no_message_id_even_with_a_header_of_that_name(lead):
    services.receive_lead(lead(), headers={"azure-message-id": MESSAGE_ID})

    assert LeadDelivery.objects.get().queue_message_id is None
    assert reject(b"<<undecodable>>").queue_message_id == MESSAGE_ID  # no collision with it


# --- Two pullers at once --------------------------------------------------------------------


def second_puller(store, result: list) -> threading.Thread:
    def run():
        try:
            result.append(store())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_for_a_lock_wait(timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # read once per transaction else
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    pytest.fail("the second puller never waited on the first one's row")


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("message", ["lead", "undecodable"])
def test_two_pullers_storing_one_message_at_once_store_it_once(lead, message):
    body = lead()
    store = (lambda: take(body).delivery) if message == "lead" else (lambda: reject(b"<<x>>"))
    result = []
    with transaction.atomic():  # the first puller has inserted and not committed yet
        first = store()
        thread = second_puller(store, result)
        wait_for_a_lock_wait()
    thread.join(timeout=10)

    assert result == [first]
    assert LeadDelivery.objects.get().queue_message_id == MESSAGE_ID


# --- The admin ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_delivery_page_shows_the_message_id(admin_client, lead):
    delivery = take(lead()).delivery

    page = admin_client.get(reverse("admin:leads_leaddelivery_change", args=[delivery.pk]))

    assert MESSAGE_ID in page.text and "Queue message id" in page.text


@pytest.mark.django_db
@pytest.mark.parametrize("typed", [MESSAGE_ID, f" {MESSAGE_ID.upper()} ", "{" + MESSAGE_ID + "}"])
def test_the_delivery_list_finds_an_exact_message_id_however_it_is_typed(admin_client, lead, typed):
    wanted = take(lead()).delivery
    take(lead(), message_id=str(uuid.uuid4()))

    page = admin_client.get(reverse("admin:leads_leaddelivery_changelist"), {"q": typed})

    assert list(page.context["cl"].result_list) == [wanted]


@pytest.mark.django_db
@pytest.mark.parametrize("term", [MESSAGE_ID[:8], MESSAGE_ID + "' OR 1=1 --", "x" * 500])
def test_a_search_that_is_no_id_finds_nothing_and_fails_nowhere(admin_client, lead, term):
    take(lead())

    page = admin_client.get(reverse("admin:leads_leaddelivery_changelist"), {"q": term})

    assert page.status_code == 200 and list(page.context["cl"].result_list) == []


# --- The migration --------------------------------------------------------------------------


@pytest.fixture
def migrator():
    """Migrate the leads app to a named migration; every app back to its latest afterwards."""

    def migrate(target: tuple[str, str]):
        executor = MigrationExecutor(connection)
        executor.migrate([target])
        return executor.loader.project_state([target]).apps

    yield migrate
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def old_delivery(apps, source: str, headers: dict, **fields):
    model = apps.get_model("leads", "LeadDelivery")
    body = uuid.uuid4().bytes
    return model.objects.create(
        body=body, body_sha256=body.hex(), source=source, headers=headers, **fields
    ).pk


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_each_queue_message_id_from_the_headers_to_its_column(migrator):
    before = migrator(BEFORE)
    pulled = old_delivery(before, QUEUE, {"azure-message-id": MESSAGE_ID}, lead_id=uuid.uuid4())
    rejected = old_delivery(before, QUEUE, {"azure-message-id": "b2"}, outcome="rejected")
    without = old_delivery(before, QUEUE, {})
    # A webhook's own headers may hold the key; the old index never covered them.
    webhook = old_delivery(before, "webhook", {"azure-message-id": MESSAGE_ID})
    blob = old_delivery(before, "azure-blob", {"azure-blob": "a.json"})

    migrator(AFTER)

    moved = dict(LeadDelivery.objects.values_list("pk", "queue_message_id"))
    assert moved == {pulled: MESSAGE_ID, rejected: "b2", without: None, webhook: None, blob: None}
    assert LeadDelivery.objects.get(pk=pulled).headers == {"azure-message-id": MESSAGE_ID}
    with pytest.raises(IntegrityError), transaction.atomic():
        LeadDelivery.objects.create(body=b"", source=QUEUE, queue_message_id="b2")


@pytest.mark.django_db(transaction=True)
def test_the_migration_goes_back_to_the_header_index(migrator):
    migrator(AFTER)
    for message_id in (MESSAGE_ID, "b2"):  # as the puller stores them, the header kept
        headers = {"azure-message-id": message_id}
        services.reject_delivery(
            b"<<x>>", "undecodable", source=QUEUE, headers=headers, queue_message_id=message_id
        )

    before = migrator(BEFORE)

    old = before.get_model("leads", "LeadDelivery")
    with pytest.raises(IntegrityError), transaction.atomic():
        old_delivery(before, QUEUE, {"azure-message-id": "b2"})
    assert old.objects.count() == 2
