"""Which SAS URLs LeadCRM contacts (`leads.sas.parse`): the host it checks is the host the Azure
SDK's HTTP client (azure-core over requests and urllib3) connects to, and every URL it will not
contact is a sentence on /healthz/, in the admin and in the pull run, never an error page."""

import re
import socket
import threading
from datetime import UTC, datetime

import pytest
import requests
from azure.storage.blob import ContainerClient
from azure.storage.queue import QueueClient
from django.urls import reverse
from django.utils.html import escape
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from urllib3.util import parse_url

from leads.choices import DeliverySource
from leads.pull import runs as pull
from leads.pull import sas

QUEUE = DeliverySource.AZURE_QUEUE
SECRET = "s3cr3t"
SAS = f"sp=rp&se=2030-01-01T00:00:00Z&sig={SECRET}"
EMULATOR_HOSTS = ["127.0.0.1", "::1"]


def connect_host(url: str) -> str | None:
    """The host azure-core's requests transport would open a connection to; None when requests
    refuses the URL (then nothing is sent)."""
    try:
        prepared = requests.Request("GET", url).prepare()
        requests.Session().get_adapter(prepared.url)  # only http and https are sent anywhere
        return parse_url(prepared.url).host
    except (requests.exceptions.RequestException, ValueError):
        return None


def sdk_connect_host(parsed: sas.SasUrl) -> str | None:
    """The host the SDK client LeadCRM builds from a parsed URL connects to."""
    client = QueueClient.from_queue_url(parsed.url)
    return connect_host(client.url)


# --- Refused ---------------------------------------------------------------------------------

# Each attack, and the host requests and urllib3 would connect to (None: they refuse the URL).
# Where that host is not the one urlsplit reads, an allow-list built on urlsplit is walked around.
ATTACKS = [
    (rf"https://127.0.0.1:8201\@acct.queue.core.windows.net/q/messages?{SAS}", "127.0.0.1"),
    (f"https://[::1]:8201\\@acct.queue.core.windows.net/q?{SAS}", "[::1]"),
    (f"https://acct.queue.core.windows.net@evil.example/q?{SAS}", "evil.example"),
    (f"https://acct.queue.core.windows.net:443@evil.example/q?{SAS}", "evil.example"),
    (f"https://evil.example@acct.queue.core.windows.net/q?{SAS}", "acct.queue.core.windows.net"),
    (
        f"https://127.0.0.1:8201%5C@acct.queue.core.windows.net/q?{SAS}",
        "acct.queue.core.windows.net",
    ),
    (
        f"https://evil.example%40acct.queue.core.windows.net/q?{SAS}",
        "evil.example%40acct.queue.core.windows.net",
    ),
    (f"https://evil.example%2F.core.windows.net/q?{SAS}", "evil.example%2F.core.windows.net"),
    (f"https://evil.example%2e.core.windows.net/q?{SAS}", "evil.example..core.windows.net"),
    (f"https://acct.queue.core.windows.net\uff0fq/messages?{SAS}", None),  # full-width slash
    (f"https://evil.example\uff0f.core.windows.net/q?{SAS}", None),
    (f"https://evil.example\uff20acct.queue.core.windows.net/q?{SAS}", None),  # full-width @
    (f"https://evil.example\uff03.core.windows.net/q?{SAS}", None),  # full-width #
    (f"https://\uff41cct.queue.core.windows.net/q?{SAS}", None),  # full-width a
    (f"https://evil\u2024example.core.windows.net/q?{SAS}", None),  # one dot leader
    (f"https://a\u2100c.queue.core.windows.net/q?{SAS}", None),  # a/c in one character
    (f"https://acct.queue.core.windows.net/q\u2215messages?{SAS}", "acct.queue.core.windows.net"),
    (f"https://acct.queue.core.windows.net\t/q?{SAS}", None),
    (
        f"https://127.0.0.1:8201\t@acct.queue.core.windows.net/q?{SAS}",
        "acct.queue.core.windows.net",
    ),
    (f"https://acct.queue.core.\nwindows.net/q?{SAS}", None),
    (
        f"https://acct.queue.core.windows.net/q?sp=rp&sig={SECRET}\r\nX-Injected: 1",
        "acct.queue.core.windows.net",
    ),
    (f"https://acct.queue.core.windows.net\x00.evil.example/q?{SAS}", None),
    (f"https://acct.queue.core.windows.net /q?{SAS}", None),
    (
        f"https://acct.queue.core.windows.net.evil.example/q?{SAS}",
        "acct.queue.core.windows.net.evil.example",
    ),
    (f"https://acct.queue.core.windows.net./q?{SAS}", "acct.queue.core.windows.net."),
    (f"https://acct..queue.core.windows.net/q?{SAS}", "acct..queue.core.windows.net"),
    (f"https://.queue.core.windows.net/q?{SAS}", None),
    (f"https://acct_x.queue.core.windows.net/q?{SAS}", "acct_x.queue.core.windows.net"),
    (f"https://-acct.queue.core.windows.net/q?{SAS}", "-acct.queue.core.windows.net"),
    (f"https://acct.queue.core.windows.net:99999/q?{SAS}", None),
    (f"https://acct.queue.core.windows.net:0/q?{SAS}", "acct.queue.core.windows.net"),
    (f"https://acct.queue.core.windows.net:/q?{SAS}", "acct.queue.core.windows.net"),
    (f"https://acct.queue.core.windows.net:+443/q?{SAS}", None),
    (f"https://acct.queue.core.windows.net:44a/q?{SAS}", None),
    (f"https://acct.queue.core.windows.net:{'4' * 5000}/q?{SAS}", None),
    (f"https://[acct.queue.core.windows.net]/q?{SAS}", None),
    (f"https://[::1]:8201/q?{SAS}", "[::1]"),
    (f"https://[::ffff:127.0.0.1]/q?{SAS}", "[::ffff:127.0.0.1]"),
    (f"https://2130706433/q?{SAS}", "2130706433"),
    (f"https:///q?{SAS}", None),
    (f"https:/acct.queue.core.windows.net/q?{SAS}", None),
    (f"//acct.queue.core.windows.net/q?{SAS}", None),
    (f"acct.queue.core.windows.net/q?{SAS}", None),
    (f"http://acct.queue.core.windows.net/q?{SAS}", "acct.queue.core.windows.net"),
    (f"ftp://127.0.0.1/devstoreaccount1/q?{SAS}", None),
    (
        f"https://acct.queue.core.windows.net/q%2F..%2Fother/messages?{SAS}",
        "acct.queue.core.windows.net",
    ),
    (f"https://acct.queue.core.windows.net/{'q' * 300}?{SAS}", "acct.queue.core.windows.net"),
]


@pytest.mark.parametrize(("url", "client_connects_to"), ATTACKS)
def test_a_url_whose_host_is_ambiguous_or_not_allowed_is_refused_without_its_signature(
    url, client_connects_to
):
    assert connect_host(url) == client_connects_to  # what the allow-list must not be fooled by

    with pytest.raises(sas.UnsafeSasUrl) as refused:
        sas.parse(url)

    message = str(refused.value)
    assert message and SECRET not in message
    assert "\n" not in message and "\t" not in message


def test_an_allowed_emulator_host_is_refused_when_user_info_hides_another_host():
    url = f"http://127.0.0.1:10001@evil.example/devstoreaccount1/q?{SAS}"

    with pytest.raises(sas.UnsafeSasUrl, match="user-info"):
        sas.parse(url, allowed_hosts=EMULATOR_HOSTS)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (rf"https://127.0.0.1:8201\@acct.queue.core.windows.net/q?{SAS}", "backslash"),
        (f"https://acct.queue.core.windows.net\uff0fq?{SAS}", "non-ASCII character (U+FF0F"),
        (f"https://acct.queue.core.windows.net\t/q?{SAS}", "space or control character"),
        (f"https://evil.example@acct.queue.core.windows.net/q?{SAS}", "user-info"),
        (f"https://evil.example%2F.core.windows.net/q?{SAS}", "percent-encoded"),
        (f"https://acct.queue.core.windows.net:99999/q?{SAS}", "from 1 to 65535"),
        (f"https://acct.queue.core.windows.net./q?{SAS}", "not a plain DNS name"),
        (f"https://[::1]:8201/q?{SAS}", "IPv6"),
        (f"https:///q?{SAS}", "no host"),
        (f"https://acct.queue.core.windows.net.evil.example/q?{SAS}", "not an Azure Storage host"),
    ],
)
def test_the_refusal_says_what_is_wrong(url, reason):
    with pytest.raises(sas.UnsafeSasUrl, match=re.escape(reason)):
        sas.parse(url)


# --- Accepted, exactly as before ----------------------------------------------------------

AZURE_QUEUE = (
    "https://mystorageaccount.queue.core.windows.net/my-leads-queue/messages"
    "?sp=rp&st=2021-03-30T17:46:08Z&se=2030-01-01T17:46:00Z&sv=2020-02-10&sig=c2VjcmV0%2B%3D"
)
AZURE_CONTAINER = (
    "https://mystorageaccount.blob.core.windows.net/crf-leads"
    "?sp=rld&se=2030-01-01&sv=2022-11-02&sr=c&sig=Zm9v%2Fg%3D%3D"
)
AZURITE_QUEUE = (
    "http://127.0.0.1:10001/devstoreaccount1/crf-leads/messages"
    "?se=2030-01-01T00%3A00%3A00Z&sp=rp&sv=2025-01-05&sig=abc%3D"
)

# URL, allowed hosts, what the SDK is given, resource, expiry, permissions, host it connects to
GOOD = [
    (
        AZURE_QUEUE,
        [],
        AZURE_QUEUE.replace("/messages", ""),
        "mystorageaccount/my-leads-queue",
        datetime(2030, 1, 1, 17, 46, tzinfo=UTC),
        "rp",
        "mystorageaccount.queue.core.windows.net",
    ),
    (
        AZURE_QUEUE + "\n",
        [],  # as pasted into a .env file
        AZURE_QUEUE.replace("/messages", ""),
        "mystorageaccount/my-leads-queue",
        datetime(2030, 1, 1, 17, 46, tzinfo=UTC),
        "rp",
        "mystorageaccount.queue.core.windows.net",
    ),
    (
        AZURE_CONTAINER,
        EMULATOR_HOSTS,
        AZURE_CONTAINER,
        "mystorageaccount/crf-leads",
        datetime(2030, 1, 1, tzinfo=UTC),
        "rld",
        "mystorageaccount.blob.core.windows.net",
    ),
    (
        "HTTPS://MyAccount.Queue.Core.Windows.Net:443//leads//messages?sp=rp&sig=abc",
        [],
        "https://MyAccount.Queue.Core.Windows.Net:443/leads?sp=rp&sig=abc",
        "myaccount/leads",
        None,
        "rp",
        "myaccount.queue.core.windows.net",
    ),
    (
        "https://myaccount.blob.core.windows.net/$root?sp=rl&sig=abc#top",
        [],
        "https://myaccount.blob.core.windows.net/$root?sp=rl&sig=abc",
        "myaccount/$root",
        None,
        "rl",
        "myaccount.blob.core.windows.net",
    ),
    (
        AZURITE_QUEUE,
        EMULATOR_HOSTS,
        AZURITE_QUEUE.replace("/messages", ""),
        "devstoreaccount1/crf-leads",
        datetime(2030, 1, 1, tzinfo=UTC),
        "rp",
        "127.0.0.1",
    ),
    (
        "http://[::1]:10001/devstoreaccount1/messages?sp=rp&sig=abc",
        EMULATOR_HOSTS,
        "http://[::1]:10001/devstoreaccount1/messages?sp=rp&sig=abc",
        "devstoreaccount1/messages",
        None,
        "rp",
        "[::1]",
    ),
]


@pytest.mark.parametrize(
    ("url", "allowed", "sdk_url", "resource", "expires_at", "permissions", "host"), GOOD
)
def test_real_azure_and_emulator_urls_parse_as_before_and_reach_the_host_they_name(
    url, allowed, sdk_url, resource, expires_at, permissions, host
):
    parsed = sas.parse(url, allowed_hosts=allowed)

    assert (parsed.url, parsed.resource) == (sdk_url, resource)
    assert (parsed.expires_at, parsed.permissions) == (expires_at, permissions)
    assert connect_host(url) == sdk_connect_host(parsed) == host
    assert connect_host(ContainerClient.from_container_url(parsed.url).url) == host


def test_an_offset_expiry_beyond_what_utc_can_hold_is_still_an_expiry_that_can_be_shown():
    url = "https://acct.queue.core.windows.net/q?se=0001-01-01T00:00:00%2B05:00&sig=abc"
    now = datetime(2026, 1, 1, tzinfo=UTC)

    parsed = sas.parse(url)

    assert parsed.expires_at == datetime.min.replace(tzinfo=UTC)
    assert "expired on" in sas.expiry_warning("CRF_AZURE_QUEUE_URL", parsed, now)


# --- Whatever the URL -------------------------------------------------------------------------

PIECES = [
    "acct.queue.core.windows.net",
    "acct",
    ".queue",
    ".core.windows.net",
    "127.0.0.1",
    "evil.example",
    "[::1]",
    "[",
    "]",
    ":",
    "8201",
    "443",
    "@",
    "\\",
    "/",
    "//",
    ".",
    "..",
    "-",
    "#",
    "?",
    "%40",
    "%2F",
    "%5C",
    "%2E",
    "%",
    "\uff0f",
    "\uff20",
    "\uff0e",
    "\uff41",
    "\u3002",
    "\t",
    "\n",
    " ",
    "\x00",
    "q",
    "messages",
    "devstoreaccount1",
    "$root",
    "_",
]
BASES = [
    "https://acct.queue.core.windows.net/q/messages",
    "https://acct.blob.core.windows.net/c",
    "http://127.0.0.1:10001/devstoreaccount1/q",
    "http://[::1]:10001/devstoreaccount1/q",
]
EXPIRIES = [
    "2030-01-01",
    "0001-01-01T00:00:00%2B05:00",
    "9999-12-31T23:59:59-05:00",
    "2030-02-30",
    "",
]


def _insert(base: str, edits: list[tuple[int, str]]) -> str:
    for position, piece in edits:
        position %= len(base) + 1
        base = base[:position] + piece + base[position:]
    return base


# Good URLs with a few pieces slipped in anywhere (none: the URL as it is), and free assemblies.
URLS = st.builds(
    lambda start, se: f"{start}?sp=rp&se={se}&sig={SECRET}",
    st.one_of(
        st.builds(
            _insert,
            st.sampled_from(BASES),
            st.lists(st.tuples(st.integers(0, 60), st.sampled_from(PIECES)), max_size=3),
        ),
        st.builds(
            "".join,
            st.lists(st.sampled_from(["https://", "http://", "//", *PIECES]), max_size=10),
        ),
    ),
    st.sampled_from(EXPIRIES),
)


@hypothesis_settings(max_examples=600, deadline=None)
@given(url=URLS)
def test_a_url_is_refused_with_a_sentence_or_reaches_only_an_allowed_host(url):
    try:
        parsed = sas.parse(url, allowed_hosts=EMULATOR_HOSTS)
    except sas.UnsafeSasUrl as refused:
        assert str(refused) and SECRET not in str(refused)
        return

    host = sdk_connect_host(parsed)
    azure = parsed.url.startswith("https://") and host.endswith(sas.AZURE_HOST_SUFFIX)
    assert azure or host in {"127.0.0.1", "[::1]"}
    assert connect_host(url) == host  # the configured URL, read by the client, names it too
    sas.expiry_warning("CRF_AZURE_QUEUE_URL", parsed, datetime.now(UTC))


# --- On the surfaces: a pull, /healthz/, the admin -------------------------------------------


class Listener:
    """A plain TCP server on a free port of 127.0.0.1 that counts the connections it is offered."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.05)
        self.port = self.socket.getsockname()[1]
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    self.received.append(connection.recv(65536))
                except OSError:
                    self.received.append(b"")

    def close(self) -> list[bytes]:
        """What was received, once every connection offered so far has been taken."""
        self._stop.set()
        self._thread.join()
        self.socket.close()
        return self.received


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.mark.django_db
def test_a_backslash_url_pointing_at_a_local_listener_is_refused_before_any_connection(
    listener, settings, caplog
):
    settings.CRF_AZURE_ALLOWED_HOSTS = []
    settings.CRF_AZURE_QUEUE_URL = (
        rf"https://127.0.0.1:{listener.port}\@acct.queue.core.windows.net/q/messages?{SAS}"
    )

    run = pull.pull(QUEUE)

    assert listener.close() == []  # no connection, so the signature was never sent
    assert run.finished_at and run.target == "" and run.taken == 0
    assert run.error.startswith("CRF_AZURE_QUEUE_URL is refused") and "backslash" in run.error
    assert SECRET not in run.error + caplog.text


MALFORMED = [
    (f"https://acct.queue.core.windows.net\uff0fq/messages?{SAS}", "U+FF0F"),
    (f"https://[acct.queue.core.windows.net]/q?{SAS}", "not host[:port]"),
    (f"https://acct.queue.core.windows.net:99999/q?{SAS}", "from 1 to 65535"),
    (f"https://evil.example\uff20acct.queue.core.windows.net/q?{SAS}", "U+FF20"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "reason"), MALFORMED)
def test_a_malformed_url_is_a_warning_on_healthz_and_in_the_admin_never_an_error_page(
    url, reason, settings, admin_client
):
    settings.CRF_AZURE_QUEUE_URL, settings.CRF_AZURE_BLOB_URL = url, ""
    run = pull.pull(QUEUE)

    health = admin_client.get("/healthz/")
    page = admin_client.get(reverse("admin:leads_pullrun_changelist"))

    assert (health.status_code, page.status_code) == (200, 200)
    refused, failed = health.json()["warnings"]
    assert refused.startswith("CRF_AZURE_QUEUE_URL is refused") and reason in refused
    assert "pull" in failed and reason in failed and reason in run.error
    [source] = [s for s in page.context["pull_sources"] if s["source"] == QUEUE]
    assert source["problem"] == refused
    assert escape(refused) in page.content.decode()
    assert SECRET not in health.content.decode() + page.content.decode() + run.error


@pytest.mark.django_db
def test_an_expiry_before_year_one_in_utc_is_shown_as_expired_not_an_error_page(
    settings, admin_client
):
    settings.CRF_AZURE_QUEUE_URL = (
        f"https://acct.queue.core.windows.net/q?se=0001-01-01T00:00:00%2B05:00&sig={SECRET}"
    )
    settings.CRF_AZURE_BLOB_URL = ""

    health = admin_client.get("/healthz/")
    page = admin_client.get(reverse("admin:leads_pullrun_changelist"))

    assert (health.status_code, page.status_code) == (200, 200)
    [warning] = health.json()["warnings"]
    assert "expired on" in warning and escape(warning) in page.content.decode()
