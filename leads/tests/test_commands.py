"""The commands (docs/contract.md#10-management-commands): seed_demo, send_test_webhook,
reprocess_deliveries."""

import json
import socket
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone

from alerts.models import Alert, AlertDelivery, CRSUser
from leads.choices import DeliveryOutcome, DeliverySource, Status
from leads.intake import services
from leads.models import Lead, LeadDelivery, StatusChange

CRF_PATH = "/webhooks/crf/leads/"


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def printed_answer(output: str) -> dict:
    """The JSON answer send_test_webhook prints under its `HTTP <status>` line."""
    return json.loads(output.split("\n", 1)[1])


# --- seed_demo --------------------------------------------------------------------------------


@pytest.fixture
def seed():
    """Run seed_demo with a fixed seed."""

    def seed(*args) -> str:
        out, _ = run("seed_demo", "--seed", "7", *args)
        return out

    return seed


@pytest.mark.django_db
def test_seed_demo_creates_the_leads_through_demo_deliveries(seed):
    out = seed("--leads", "40")

    assert Lead.objects.count() == 40
    deliveries = LeadDelivery.objects.all()
    assert deliveries.count() > 40  # some leads got lead updates
    assert set(deliveries.values_list("source", flat=True)) == {DeliverySource.DEMO}
    assert set(deliveries.values_list("outcome", flat=True)) == {DeliveryOutcome.PROCESSED}
    assert "40 leads" in out


@pytest.mark.django_db
def test_seed_demo_sends_lead_updates_that_build_a_status_history(seed):
    seed("--leads", "40")

    updated = Lead.objects.annotate(
        deliveries_count=Count("deliveries", distinct=True),
        history=Count("status_changes", distinct=True),
    ).filter(deliveries_count__gt=1)
    assert updated.exists()
    assert updated.filter(history__gt=1).exists()
    first_changes = StatusChange.objects.filter(from_status="")
    assert set(first_changes.values_list("to_status", flat=True)) <= set(Status.values)


@pytest.mark.django_db
def test_seed_demo_generates_only_known_values(seed):
    seed("--leads", "60")

    assert not Lead.objects.exclude(data_problems=[]).exists()
    assert not Lead.objects.exclude(extra={}).exists()
    assert not LeadDelivery.objects.exclude(warnings=[]).exists()
    assert set(Lead.objects.values_list("status", flat=True)) <= set(Status.values)


@pytest.mark.django_db
def test_seed_demo_if_empty_adds_nothing_the_second_time(seed):
    seed("--leads", "5")
    deliveries = LeadDelivery.objects.count()

    out = seed("--leads", "5", "--if-empty")

    assert Lead.objects.count() == 5
    assert LeadDelivery.objects.count() == deliveries
    assert "already exist" in out


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_login_when_debug_is_on(seed, settings):
    settings.DEBUG = True
    seed("--leads", "1")
    admin = get_user_model().objects.get(username="admin")
    admin.set_password("changed")
    admin.save()

    out = seed("--leads", "0")

    admin.refresh_from_db()
    assert admin.is_superuser and admin.is_staff
    assert admin.check_password("leadcrm-demo")  # reset every run: the printed one is right
    assert "officer (Loan officer), manager (Lending manager), admin (superuser)" in out
    officer = get_user_model().objects.get(username="officer")
    assert not officer.is_superuser and officer.check_password("leadcrm-demo")
    assert list(officer.groups.values_list("name", flat=True)) == ["Loan officer"]
    assert not officer.has_perm("leads.view_demographics")
    assert get_user_model().objects.get(username="manager").has_perm("leads.view_demographics")


@pytest.mark.django_db
def test_seed_demo_creates_no_login_when_debug_is_off(seed, settings):
    settings.DEBUG = False

    out = seed("--leads", "1")

    assert not get_user_model().objects.exists()
    assert "leadcrm-demo" not in out


@pytest.mark.django_db
def test_seed_demo_sends_alerts_about_people_who_are_demo_leads(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run("seed_demo", "--leads", "20", "--seed", "7")
    with django_capture_on_commit_callbacks(execute=True):
        run("seed_demo", "--leads", "0", "--alerts", "120", "--seed", "7")

    assert Alert.objects.count() == 120
    assert AlertDelivery.objects.count() >= 2  # nightly batches
    linked = CRSUser.objects.exclude(lead=None)
    assert 10 < linked.count() <= 20  # people with at least one alert; 20 are demo leads
    assert all(person.name and person.email for person in linked)
    assert Alert.objects.filter(user__lead__isnull=False).exists()
    assert not Alert.objects.exclude(problems=[]).exists()


@pytest.mark.integration  # PostgreSQL: shards of leads written by several processes at once
@pytest.mark.django_db(transaction=True)
def test_seed_demo_writes_shards_side_by_side(monkeypatch):
    from leads import demo

    monkeypatch.setattr(demo, "SHARD_LEADS", 40)  # 100 leads: three shards, two processes
    out, _ = run("seed_demo", "--leads", "100", "--seed", "7")

    assert Lead.objects.count() == 100
    assert f"100 leads in {LeadDelivery.objects.count()} deliveries" in out
    assert set(LeadDelivery.objects.values_list("outcome", flat=True)) == {
        DeliveryOutcome.PROCESSED
    }
    assert not Lead.objects.filter(applied_delivery=None).exists()
    assert not Lead.objects.filter(status_changes=None).exists()


# --- send_test_webhook -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_send_test_webhook_posts_the_sample_lead_and_prints_the_answer(
    live_server, crf_secret, sample_lead
):
    out, _ = run("send_test_webhook", "crf", "--url", live_server.url + CRF_PATH)

    assert out.startswith("HTTP 202")
    answer = printed_answer(out)
    assert answer["id"] == sample_lead["id"]
    delivery = LeadDelivery.objects.get(pk=answer["delivery"])
    assert str(delivery.lead_id) == sample_lead["id"]
    assert delivery.outcome == DeliveryOutcome.PROCESSED
    assert crf_secret not in json.dumps(delivery.headers)


@pytest.mark.django_db(transaction=True)
def test_send_test_webhook_with_status_sends_a_lead_update(live_server, crf_secret, sample_lead):
    url = live_server.url + CRF_PATH
    run("send_test_webhook", "crf", "--url", url)

    out, _ = run("send_test_webhook", "crf", "--url", url, "--status", "Funded")

    assert printed_answer(out)["duplicate"] is False
    lead = Lead.objects.get(pk=sample_lead["id"])
    assert lead.deliveries.count() == 2
    assert lead.status == Status.FUNDED
    assert list(lead.status_changes.values_list("to_status", flat=True)) == ["Matched", "Funded"]


@pytest.mark.django_db(transaction=True)
def test_send_test_webhook_sends_the_given_file(live_server, crf_secret, sample_lead, tmp_path):
    lead_file = tmp_path / "lead.json"
    lead_file.write_text(json.dumps(sample_lead | {"id": str(uuid.uuid4())}))

    out, _ = run(
        "send_test_webhook", "crf", "--url", live_server.url + CRF_PATH, "--file", str(lead_file)
    )

    assert Lead.objects.filter(pk=printed_answer(out)["id"]).exists()


def test_send_test_webhook_without_a_secret_is_a_command_error(settings):
    settings.CRF_WEBHOOK_SECRET = []

    with pytest.raises(CommandError, match="CRF_WEBHOOK_SECRET"):
        run("send_test_webhook", "crf")


def test_send_test_webhook_to_an_unreachable_url_is_a_command_error(crf_secret):
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(CommandError, match="Is the server running"):
        run("send_test_webhook", "crf", "--url", f"http://127.0.0.1:{port}{CRF_PATH}")


@pytest.mark.django_db(transaction=True)
def test_send_test_webhook_crs_posts_a_test_batch_and_prints_each_answer(
    live_server, crs_credentials
):
    out, _ = run(
        "send_test_webhook",
        "crs",
        "--url",
        live_server.url + "/webhooks/crs/alerts/",
        "--count",
        "3",
    )

    assert out.startswith("HTTP 200")
    answers = printed_answer(out)
    assert [answer["status"] for answer in answers] == [True, True, True]
    stored = Alert.objects.filter(pk__in=[answer["hook_id"] for answer in answers])
    assert set(stored.values_list("type", flat=True)) == {"TEST"}


@pytest.mark.django_db(transaction=True)
def test_send_test_webhook_crs_sends_the_type_asked_for(live_server, crs_credentials):
    run(
        "send_test_webhook",
        "crs",
        "--url",
        live_server.url + "/webhooks/crs/alerts/",
        "--type",
        "ACCALERT",
    )

    alert = Alert.objects.get()
    assert (alert.type, alert.alert_source) == ("ACCALERT", "Equifax")
    assert alert.alert_date is not None


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.django_db(transaction=True)
def test_send_test_webhook_crf_given_the_servers_address_posts_to_the_lead_webhook(
    live_server, crf_secret, sample_lead, slash
):
    out, _ = run("send_test_webhook", "crf", "--url", live_server.url + slash)

    assert out.startswith(f"HTTP 202 from {live_server.url}{CRF_PATH}\n")
    assert Lead.objects.filter(pk=sample_lead["id"]).exists()


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.django_db(transaction=True)
def test_send_test_webhook_crs_given_the_servers_address_posts_to_the_alert_webhook(
    live_server, crs_credentials, slash
):
    out, _ = run("send_test_webhook", "crs", "--url", live_server.url + slash)

    assert out.startswith(f"HTTP 200 from {live_server.url}/webhooks/crs/alerts/\n")
    assert Alert.objects.filter(pk=printed_answer(out)[0]["hook_id"]).exists()


@pytest.mark.parametrize(
    "url",
    [
        "127.0.0.1:8000",
        "localhost:8000",
        "ftp://127.0.0.1/",
        "http://[::1",
        "http://127.0.0.1:99999",
    ],
)
def test_send_test_webhook_to_something_that_is_not_an_http_address_is_a_command_error(
    crf_secret, url
):
    with pytest.raises(CommandError, match=r"must be an http\(s\) address"):
        run("send_test_webhook", "crf", "--url", url)


def test_send_test_webhook_crs_without_credentials_is_a_command_error(settings):
    settings.CRS_WEBHOOK_USERNAME = ""

    with pytest.raises(CommandError, match="CRS_WEBHOOK_USERNAME"):
        run("send_test_webhook", "crs")


def test_send_test_webhook_knows_only_its_targets(crf_secret):
    with pytest.raises(CommandError, match="invalid choice"):
        run("send_test_webhook", "nope")


# --- reprocess_deliveries --------------------------------------------------------------------


@pytest.fixture
def stored(sample_lead):
    """Receive and process a lead (a variant of the sample); returns its delivery."""

    def store(**changes) -> LeadDelivery:
        lead = sample_lead | {"id": str(uuid.uuid4())} | changes
        receipt = services.receive_lead(json.dumps(lead).encode())
        services.process_lead(receipt.delivery.lead_id)
        return receipt.delivery

    return store


def failed(delivery: LeadDelivery) -> None:
    LeadDelivery.objects.filter(pk=delivery.pk).update(outcome="failed", error="boom")


@pytest.mark.django_db
def test_reprocess_deliveries_processes_a_failed_delivery_again(stored):
    delivery = stored()
    failed(delivery)

    out, _ = run("reprocess_deliveries", "--failed")

    delivery.refresh_from_db()
    assert delivery.outcome == DeliveryOutcome.PROCESSED
    assert delivery.error == ""
    assert "Leads processed: 1" in out
    assert "still failed: 0" in out


@pytest.mark.django_db
def test_reprocess_deliveries_says_how_many_deliveries_are_still_failed(stored):
    from django.db import connection

    from leads.tests.test_processing import fail_lead_updates

    failed(stored())
    stored()

    with connection.execute_wrapper(fail_lead_updates):
        out, err = run("reprocess_deliveries")

    assert "Leads processed: 2 (0 deliveries); deliveries still failed: 2." in out
    assert "Reprocessing: 100%" in err and "2/2" in err


@pytest.mark.django_db
def test_reprocess_deliveries_with_lead_reprocesses_only_that_lead(stored):
    mine, other = stored(), stored()
    failed(mine)
    failed(other)

    run("reprocess_deliveries", "--lead", str(mine.lead_id))

    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.outcome == DeliveryOutcome.PROCESSED
    assert other.outcome == DeliveryOutcome.FAILED


@pytest.mark.django_db
def test_reprocess_deliveries_with_since_skips_older_deliveries(stored):
    old, new = stored(), stored()
    failed(old)
    failed(new)
    LeadDelivery.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=10))
    since = (timezone.now() - timedelta(days=1)).date().isoformat()

    out, _ = run("reprocess_deliveries", "--since", since)

    old.refresh_from_db()
    new.refresh_from_db()
    assert new.outcome == DeliveryOutcome.PROCESSED
    assert old.outcome == DeliveryOutcome.FAILED
    assert "Leads processed: 1" in out


@pytest.mark.django_db
def test_reprocess_deliveries_keeps_the_newest_state_of_a_lead(stored):
    first = stored()
    lead_id = str(first.lead_id)
    stored(id=lead_id, status="Funded")
    failed(first)

    run("reprocess_deliveries", "--failed")

    lead = Lead.objects.get(pk=lead_id)
    assert lead.status == Status.FUNDED  # the older delivery only adds to the history
    assert list(lead.status_changes.values_list("to_status", flat=True)) == ["Matched", "Funded"]


@pytest.mark.django_db
@pytest.mark.parametrize("option, value", [("--since", "2025-13-01"), ("--lead", "not-a-uuid")])
def test_reprocess_deliveries_with_a_bad_value_is_a_command_error(option, value):
    with pytest.raises(CommandError, match=option):
        run("reprocess_deliveries", option, value)
