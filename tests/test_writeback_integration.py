"""Dispositions written back to CRF on the real path (docs/contract.md#16-dispositions): recorded
and committed here, queued on a Redis of this module's own, sent by a real `celery worker` to a
test CRF (tests/crf_api.py), confirmed by CRF's lead update through the webhook. Workers are
killed, the broker is stopped, CRF answers 503 and 409: each update reaches CRF once, in order.

This process publishes to the module's Redis too (the officer's request, the sweep, the live
server's webhook), so that stopping it is an outage for all of them, and no other worker of the
test run takes these tasks.
"""

import json
import random
import socket
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager

import pytest
from django.db.models import F
from django.forms.models import model_to_dict

from conftest import CRF_URL
from leadcrm.celery import app
from leads.choices import Confirmation, WriteBack
from leads.dispositions import services
from leads.dispositions.forms import DispositionForm
from leads.models import Disposition, Lead, LeadDelivery

from .conftest import kill_with_children, running, wait_until
from .crf_api import CRF, KEY, ROUTE, Answer, problem
from .test_crf_intake_integration import post
from .test_recovery_integration import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# CRF_API_TIMEOUT here and in the worker: a sender's claim lapses after 2 * 2 + 5 = 9 s.
TIMEOUT = 2
FUNDED = {
    "status": "Funded",
    "fundedDate": "2026-11-30",
    "fundedAmount": "25000.00",
    "fundedInterestRate": "7.25",
    "fundedTermMonths": "60",
    "fundedAPR": "7.5",
}


@contextmanager
def publishing_to(url: str):
    """This process's Celery app publishes to `url` (its connection pools built anew)."""

    def drop_pools() -> None:
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None

    names = ("broker_url", "broker_write_url", "broker_read_url")
    saved = {name: app.conf[name] for name in names}
    drop_pools()
    app.conf.update(dict.fromkeys(names, url))
    try:
        yield
    finally:
        drop_pools()
        app.conf.update(saved)


def port_outside_the_ephemeral_range() -> int:
    """A free port the system never hands out on its own (bind to port 0, a connect's source
    port): while this module's broker is stopped, no other socket takes its port."""
    for _ in range(100):
        port = random.randrange(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    pytest.fail("no free port between 20000 and 32000")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    server = RedisServer(port_outside_the_ephemeral_range(), tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        with publishing_to(f"redis://127.0.0.1:{server.port}/0"):
            yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def crf_server():
    server = CRF()
    yield server
    server.close()


@pytest.fixture
def crf(crf_server, settings):
    """The module's test CRF, its script emptied, and this process's settings pointing at it
    (the sweep reads the claim timeout from them). Lead ids are each test's own."""
    with crf_server._lock:
        crf_server._script.clear()  # what a failed test left
    settings.CRF_API_URL = crf_server.url
    settings.CRF_API_KEY = KEY
    settings.CRF_PARTNER_ROUTE = ROUTE
    settings.CRF_API_TIMEOUT = TIMEOUT
    return crf_server


class Workers:
    """Celery workers of one test, on the module's Redis, pointed at the test's CRF; their
    output (at INFO) goes to one log file."""

    def __init__(self, env: dict[str, str], log_path, stack: ExitStack):
        self.env, self.log_path, self.stack = env, log_path, stack
        self.log = stack.enter_context(open(log_path, "ab"))
        self.process = None

    def start(self) -> None:
        name = f"writeback-{uuid.uuid4().hex[:8]}@localhost"
        command = [
            *(sys.executable, "-m", "celery", "-A", "leadcrm", "worker"),
            *("--hostname", name, "--concurrency", "2", "--loglevel", "INFO"),
            *("--without-mingle", "--without-gossip"),
        ]

        def ping() -> bool:
            return bool(app.control.ping(destination=[name], timeout=0.5))

        started = time.monotonic()
        self.process = self.stack.enter_context(
            running(command, self.env, ping, "the celery worker", output=self.log)
        )
        print(f"\nworker up in {time.monotonic() - started:.1f} s")

    def kill(self) -> None:
        kill_with_children(self.process)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def module_workers(broker, crf_server, service_env, tmp_path_factory):
    """One worker for the module (a test that kills it starts the next)."""
    env = {
        **service_env,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{broker.port}/0",
        "CRF_API_URL": crf_server.url,
        "CRF_API_KEY": KEY,
        "CRF_PARTNER_ROUTE": ROUTE,
        "CRF_API_TIMEOUT": str(TIMEOUT),
        "LOG_LEVEL": "INFO",
    }
    with ExitStack() as stack:
        workers = Workers(env, tmp_path_factory.mktemp("worker") / "worker.log", stack)
        workers.start()
        yield workers


@pytest.fixture
def workers(module_workers, crf):
    if module_workers.process.poll() is not None:
        pytest.fail(f"the worker exited with code {module_workers.process.returncode}")
    start = len(module_workers.output())
    yield module_workers
    # Shown when the test fails: what the worker logged meanwhile.
    print("\nThe worker's log during the test:\n" + module_workers.output()[start:][-20000:])


@pytest.fixture
def officer(django_user_model):
    return django_user_model.objects.create_user("officer", "officer@lender.example", "x")


def body_of(lead_id: str, **fields: str) -> dict:
    """What the lead page's form makes of these fields."""
    form = DispositionForm(data=fields)
    assert form.is_valid(), form.errors
    return form.body(lead_id)


def record(lead_id: str, officer, **fields: str) -> Disposition:
    return services.record(Lead.objects.get(pk=lead_id), body_of(lead_id, **fields), officer)


def row(disposition: Disposition) -> Disposition:
    return Disposition.objects.get(pk=disposition.pk)


def state_of(disposition: Disposition) -> str:
    return row(disposition).state


def wait_for_outcome(disposition: Disposition, timeout: float = 20) -> Disposition:
    """The write-back once it is out of the outbox (sent, failed)."""
    wait_until(
        lambda: state_of(disposition) not in services.IN_OUTBOX,
        timeout=timeout,
        interval=0.02,
        message=f"write-back {disposition.status} to leave the outbox",
    )
    return row(disposition)


def wait_for_state(disposition: Disposition, state: str, timeout: float = 20) -> Disposition:
    wait_until(
        lambda: state_of(disposition) == state,
        timeout=timeout,
        interval=0.02,
        message=f"write-back {disposition.status} to be {state}",
    )
    return row(disposition)


def requests_of(crf: CRF, lead_id: str):
    """The POSTs CRF received for the lead, in arrival order."""
    return [r for r in list(crf.requests) if r.method == "POST" and r.body["id"] == lead_id]


def assert_key_kept_secret(workers: Workers) -> None:
    log = workers.output()
    assert "leads.dispositions.send" in log  # the log is the worker's, at INFO
    assert KEY not in log
    for disposition in Disposition.objects.all():
        assert KEY not in json.dumps(model_to_dict(disposition), default=str)
    for headers in LeadDelivery.objects.values_list("headers", flat=True):
        assert KEY not in json.dumps(headers)


def test_a_lead_worked_from_matched_to_funded_reaches_crf_once_per_step_and_is_confirmed(
    workers, crf, officer, live_server, crf_secret, sample_lead
):
    lead_id = str(uuid.uuid4())

    def lead_update(status: str) -> None:
        body = json.dumps({**sample_lead, "id": lead_id, "status": status}).encode()
        answer = post(live_server.url + CRF_URL, body, crf_secret)
        assert answer[0] == 202, answer

    lead_update("Matched")
    wait_until(lambda: Lead.objects.filter(pk=lead_id).exists(), message="the lead")

    steps = [{"status": "Reviewed"}, {"status": "Contacted"}, {"status": "Qualified"}, FUNDED]
    timings = []
    for number, fields in enumerate(steps, 1):
        recorded_at = time.time()
        disposition = record(lead_id, officer, **fields)
        assert disposition.state == WriteBack.PENDING
        wait_until(
            lambda n=number: len(requests_of(crf, lead_id)) >= n,
            timeout=10,
            interval=0.01,
            message=f"CRF to receive {fields['status']}",
        )
        received_at = requests_of(crf, lead_id)[number - 1].at
        sent = wait_for_state(disposition, WriteBack.SENT)
        assert sent.confirmed_at is None  # not before CRF says so

        updated_at = time.time()
        lead_update(fields["status"])
        wait_until(
            lambda d=disposition: row(d).confirmed_at is not None,
            interval=0.02,
            message=f"{fields['status']} to be confirmed",
        )
        confirmed = row(disposition)
        assert confirmed.confirmed_by == Confirmation.WEBHOOK
        assert (confirmed.state, confirmed.attempts, confirmed.error) == (WriteBack.SENT, 1, "")
        timings.append(
            (
                fields["status"],
                received_at - recorded_at,
                sent.sent_at.timestamp() - recorded_at,
                confirmed.confirmed_at.timestamp() - updated_at,
                confirmed.confirmed_at.timestamp() - recorded_at,
            )
        )

    statuses = [fields["status"] for fields in steps]
    assert crf.posted(lead_id) == [body_of(lead_id, **fields) for fields in steps]
    assert crf.posted(lead_id)[-1] == {
        "id": lead_id,
        "status": "Funded",
        "fundedDate": "2026-11-30",
        "fundedAmount": 25000.0,
        "fundedInterestRate": 7.25,
        "fundedTermMonths": 60,
        "fundedAPR": 7.5,
    }
    assert crf.applied(lead_id) == statuses
    assert all(r.headers.get("x-api-key") == KEY for r in requests_of(crf, lead_id))
    assert Lead.objects.get(pk=lead_id).disposition.status == "Funded"
    print("status      record→CRF  record→sent  update→confirmed  record→confirmed")
    for status, *seconds in timings:
        print(f"{status:<10}" + "".join(f"{s:>12.3f} s" for s in seconds))
    assert_key_kept_secret(workers)


def test_a_worker_killed_while_crf_answers_is_replaced_and_crf_gets_the_update_once(
    workers, crf, officer, add_lead
):
    lead_id = add_lead()
    before = len(crf.requests)
    crf.script(Answer(delay=3, apply=True))  # CRF takes it and answers late

    disposition = record(lead_id, officer, status="Reviewed")
    wait_until(
        lambda: requests_of(crf, lead_id), timeout=10, interval=0.01, message="CRF's request"
    )
    workers.kill()
    killed_at = time.monotonic()
    in_flight = row(disposition)
    assert in_flight.state == WriteBack.SENDING
    assert crf.applied(lead_id) == ["Reviewed"]
    assert services.sweep() == 0  # the claim is fresh: the sweep leaves it to its sender

    workers.start()
    # A beat of its own, every 0.2 s: the first sweep that queues it is after the claim lapsed.
    wait_until(lambda: services.sweep() > 0, timeout=30, message="the sweep to queue it")
    swept_at = time.monotonic()
    sent = wait_for_state(disposition, WriteBack.SENT)
    done_at = time.monotonic()

    claim_age = sent.claimed_at - in_flight.claimed_at
    print(
        f"\nkilled mid-request; swept {swept_at - killed_at:.1f} s after the kill "
        f"(claim timeout {services.claim_timeout().total_seconds():.0f} s, taken again "
        f"{claim_age.total_seconds():.1f} s after the first claim), "
        f"sent {done_at - swept_at:.2f} s after the sweep"
    )
    assert claim_age >= services.claim_timeout()
    assert crf.applied(lead_id) == ["Reviewed"]
    assert crf.posted(lead_id) == [body_of(lead_id, status="Reviewed")]  # read back, not posted
    assert [r.method for r in crf.requests[before:]] == ["POST", "GET"]
    assert (sent.attempts, sent.uncertain, sent.error) == (2, False, "")
    assert (sent.crf_status, sent.confirmed_by) == ("Reviewed", Confirmation.READ_BACK)
    assert_key_kept_secret(workers)


def test_dispositions_recorded_while_the_broker_is_down_are_sent_once_after_its_return(
    workers, broker, crf, officer, add_lead
):
    lead_ids = [add_lead() for _ in range(3)]
    before = len(crf.requests)
    broker.stop()
    stopped = time.monotonic()
    try:
        answered = []
        dispositions = []
        for lead_id in lead_ids:
            started = time.monotonic()
            dispositions.append(record(lead_id, officer, status="Contacted"))
            answered.append(time.monotonic() - started)
        assert [state_of(d) for d in dispositions] == [WriteBack.PENDING] * 3
        time.sleep(1)
        assert crf.requests[before:] == []
    finally:
        broker.start()
    outage = time.monotonic() - stopped
    wait_until(broker.consumes, message="the worker to consume again")
    consuming = time.monotonic()

    assert services.sweep() == 0  # fresh rows are their own tasks' to send, for SWEEP_GRACE
    # As if the grace had passed: their tasks were lost with the broker.
    Disposition.objects.update(next_attempt_at=F("next_attempt_at") - services.SWEEP_GRACE)
    assert services.sweep() == 3
    for disposition in dispositions:
        wait_for_state(disposition, WriteBack.SENT)
    sent = time.monotonic()

    print(
        f"\nrecorded with the broker down in {', '.join(f'{s:.3f}' for s in answered)} s; "
        f"outage {outage:.1f} s; worker consuming {consuming - stopped - outage:.1f} s after "
        f"the broker's return; all sent {sent - consuming:.2f} s after the sweep"
    )
    assert max(answered) < 2
    for lead_id in lead_ids:
        assert crf.applied(lead_id) == ["Contacted"]
        assert crf.posted(lead_id) == [body_of(lead_id, status="Contacted")]
    assert services.sweep() == 0
    assert_key_kept_secret(workers)


def test_the_worker_outlives_a_broker_outage_in_the_middle_of_a_task(
    workers, broker, crf, officer, add_lead
):
    """The broker goes away while the worker holds a message it has not acknowledged (its task
    waiting for CRF's answer): the worker reconnects when the broker returns, and the write-back
    is sent once."""
    lead_id = add_lead()
    crf.script(Answer(200, delay=1.5, apply=True))  # answered within the timeout of 2 s
    disposition = record(lead_id, officer, status="Reviewed")
    wait_until(lambda: requests_of(crf, lead_id), interval=0.01, message="CRF to be asked")
    broker.stop()
    try:
        time.sleep(1)  # the worker sees the connection lost, its task still running
    finally:
        broker.start()
    assert workers.process.poll() is None, "the worker exited when the broker went away"
    wait_until(broker.consumes, message="the worker to consume again")
    sent = wait_for_state(disposition, WriteBack.SENT)
    assert crf.applied(lead_id) == ["Reviewed"]
    assert (sent.attempts, sent.error) == (1, "")
    assert workers.process.poll() is None


def test_a_503_storm_with_retry_after_ends_in_one_update_and_waits_as_told(
    workers, crf, officer, add_lead
):
    lead_id = add_lead()
    told = [1, 2, 1, 1]  # Retry-After of each 503, in seconds
    crf.script(*[Answer(503, headers={"Retry-After": str(seconds)}) for seconds in told])

    started = time.monotonic()
    disposition = record(lead_id, officer, status="Qualified")
    sent = wait_for_state(disposition, WriteBack.SENT, timeout=30)
    took = time.monotonic() - started

    arrivals = [r.at for r in requests_of(crf, lead_id)]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    print(
        f"\n{len(told)} × 503 (Retry-After {told} s) then 200 in {took:.2f} s; gaps between "
        "POSTs " + ", ".join(f"{gap:.2f}" for gap in gaps) + " s"
    )
    assert len(arrivals) == len(told) + 1
    assert all(gap >= seconds for gap, seconds in zip(gaps, told, strict=True)), gaps
    assert crf.applied(lead_id) == ["Qualified"]
    assert (sent.attempts, sent.error, sent.problem) == (len(told) + 1, "", {})
    assert_key_kept_secret(workers)


def test_a_409_fails_with_crfs_problem_until_resent(workers, crf, officer, add_lead):
    lead_id = add_lead()
    refusal = problem(409, "Conflict", "The lead is withdrawn.")
    crf.script(refusal)

    disposition = record(lead_id, officer, status="Contacted")
    failed = wait_for_state(disposition, WriteBack.FAILED)
    assert failed.problem == refusal.body
    assert failed.error == "CRF answered 409: The lead is withdrawn."
    assert failed.attempts == 1
    time.sleep(2)  # nothing retries it
    assert services.sweep() == 0
    assert len(requests_of(crf, lead_id)) == 1
    assert crf.applied(lead_id) == []

    resent_at = time.monotonic()
    assert services.resend(Disposition.objects.filter(pk=disposition.pk)) == 1
    sent = wait_for_state(disposition, WriteBack.SENT)
    print(f"\nresent after a 409: sent in {time.monotonic() - resent_at:.2f} s")
    assert (sent.attempts, sent.error, sent.problem) == (1, "", {})
    assert len(requests_of(crf, lead_id)) == 2
    assert crf.applied(lead_id) == ["Contacted"]
    assert_key_kept_secret(workers)


def test_two_dispositions_of_a_lead_go_one_at_a_time_in_order(workers, crf, officer, add_lead):
    # The second recorded while CRF is still answering the first.
    lead_id = add_lead()
    crf.script(Answer(delay=1.5, apply=True))  # a slow 200
    first = record(lead_id, officer, status="Reviewed")
    wait_until(
        lambda: requests_of(crf, lead_id), timeout=10, interval=0.01, message="the first POST"
    )
    second = record(lead_id, officer, status="Contacted")
    assert (state_of(first), state_of(second)) == (WriteBack.SENDING, WriteBack.PENDING)
    first, second = wait_for_state(first, WriteBack.SENT), wait_for_state(second, WriteBack.SENT)

    posts = requests_of(crf, lead_id)
    assert [r.body["status"] for r in posts] == ["Reviewed", "Contacted"]
    # The second request started after the first one's answer came back.
    assert posts[1].at >= first.sent_at.timestamp() >= posts[0].at + 1.5
    print(
        f"\nin flight together: never; the second POST {posts[1].at - posts[0].at:.2f} s after "
        f"the first, {posts[1].at - first.sent_at.timestamp():.3f} s after its answer"
    )

    # Both recorded at once: in order, one at a time, or the first superseded unsent.
    other = add_lead()
    crf.script(Answer(delay=1.5, apply=True))  # a slow 200
    older = record(other, officer, status="Reviewed")
    newer = record(other, officer, status="Qualified")
    newer = wait_for_state(newer, WriteBack.SENT)
    older = row(older)
    posts = requests_of(crf, other)
    if older.state == WriteBack.SUPERSEDED:
        assert [r.body["status"] for r in posts] == ["Qualified"]
        assert crf.applied(other) == ["Qualified"]
    else:
        assert older.state == WriteBack.SENT
        assert [r.body["status"] for r in posts] == ["Reviewed", "Qualified"]
        assert posts[1].at >= older.sent_at.timestamp()
    print(f"recorded together: the older one {older.get_state_display().lower()}")
    assert_key_kept_secret(workers)


@pytest.mark.parametrize("redirect", [302, 307])
def test_a_redirect_is_not_followed_with_the_key(workers, crf, officer, add_lead, redirect):
    # requests would follow it with the x-api-key header, and a 302 would become a GET whose
    # 200 passed for the update taken.
    lead_id = add_lead()
    elsewhere = CRF()
    try:
        elsewhere.statuses[lead_id] = "Reviewed"  # a GET there would answer 200
        location = f"{elsewhere.url}/api/v1/{ROUTE}/leads?leadId={lead_id}"
        crf.script(Answer(redirect, headers={"Location": location}))

        disposition = record(lead_id, officer, status="Reviewed")
        failed = wait_for_outcome(disposition)
        assert [(r.method, r.headers.get("x-api-key")) for r in elsewhere.requests] == []
    finally:
        elsewhere.close()
    assert failed.state == WriteBack.FAILED
    assert failed.error.startswith(f"CRF answered {redirect}")
    assert "redirect, not followed" in failed.error
    assert crf.applied(lead_id) == []
    assert_key_kept_secret(workers)
