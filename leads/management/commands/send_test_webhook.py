"""`send_test_webhook`: post a sample delivery to a running LeadCRM, as the partner would.

Each target is one function in TARGETS that adds its options and returns how to build the request;
the posting and printing are shared.
"""

import base64
import json
import time
import urllib.error
import uuid
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

SAMPLE_LEAD = Path(__file__).resolve().parents[2] / "samples" / "crf_lead.json"
BASE_URL = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 10


@dataclass
class Post:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def crf(parser) -> Callable[[dict], Post]:
    """A CRF Connect lead (the sample, or --file), with the configured secret header."""
    _add_url(parser)
    parser.add_argument("--file", type=Path, default=SAMPLE_LEAD, help="a lead as JSON")
    parser.add_argument("--status", help="send the lead with this status (a lead update)")

    def build(options: dict) -> Post:
        secret = next((s for s in settings.CRF_WEBHOOK_SECRET if s), None)
        if not secret:
            raise CommandError(
                "CRF_WEBHOOK_SECRET is not set (see .env.example; `make run` writes a .env)."
            )
        body = _read(options["file"])
        if options["status"]:
            body = json.dumps(_lead(body, options["file"]) | {"status": options["status"]}).encode()
        url = _webhook_url(options["url"], "crf-leads-webhook")
        return Post(url, body, {settings.CRF_WEBHOOK_HEADER: secret})

    return build


def crs(parser) -> Callable[[dict], Post]:
    """A CRS notification batch (--count items of --type), with the configured Basic credentials:
    the counterpart of CRS's own "Webhook Test" request."""
    _add_url(parser)
    parser.add_argument("--type", default="TEST", help="notification type (default TEST)")
    parser.add_argument("--count", type=int, default=1, help="items in the batch (default 1)")

    def build(options: dict) -> Post:
        username, password = settings.CRS_WEBHOOK_USERNAME, settings.CRS_WEBHOOK_PASSWORD
        if not (username and password):
            raise CommandError("CRS_WEBHOOK_USERNAME / CRS_WEBHOOK_PASSWORD are not set (see .env.example).")
        if options["count"] < 1:
            raise CommandError("--count must be at least 1.")
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        batch = _crs_batch(options["type"], options["count"])
        url = _webhook_url(options["url"], "crs-alerts-webhook")
        return Post(url, json.dumps(batch).encode(), {"Authorization": f"Basic {token}"})

    return build


def _add_url(parser) -> None:
    parser.add_argument(
        "--url", default=BASE_URL,
        help=f"the server (default {BASE_URL}), or the webhook's full URL",
    )


def _webhook_url(given: str, name: str) -> str:
    """The address as typed: a server (nothing after the host) gets the webhook's path from the
    URLconf; any other URL is the webhook's own, used as it is."""
    parts = _split(given)
    if parts.path.strip("/"):
        return given
    return urlunsplit(parts._replace(path=reverse(name)))


def _crs_batch(alert_type: str, count: int) -> list[dict]:
    user_id, host_id, now = str(uuid.uuid4()), str(uuid.uuid4()), int(time.time())
    item = {"type": alert_type, "user_id": user_id, "host_id": host_id, "time": now}
    if alert_type == "ACCALERT":
        item |= {"alert_date": f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}", "alert_source": "Equifax"}
    return [{"id": str(uuid.uuid4()), **item, "alert_id": str(uuid.uuid4())} for _ in range(count)]


TARGETS = {"crf": crf, "crs": crs}


class Command(BaseCommand):
    help = "Post a sample delivery to a running instance and print the answer."

    def add_arguments(self, parser):
        targets = parser.add_subparsers(dest="target", required=True, title="targets")
        for name, target in TARGETS.items():
            sub = targets.add_parser(name, help=target.__doc__)
            sub.set_defaults(build=target(sub))

    def handle(self, *args, build, **options):
        post = build(options)
        status, answer = _send(post)
        self.stdout.write(f"HTTP {status} from {post.url}")
        self.stdout.write(_pretty(answer))
        if status == 401:
            raise CommandError("Refused (HTTP 401): does the server use the same credentials (.env)?")
        if status >= 400:
            raise CommandError(f"The server refused the delivery (HTTP {status}).")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None


def _lead(body: bytes, path: Path) -> dict:
    try:
        lead = json.loads(body)
    except ValueError:
        lead = None
    if not isinstance(lead, dict):
        raise CommandError(f"{path} is not a JSON object, so --status cannot be set in it.")
    return lead


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port out of range, as urllib would later)
    except ValueError:  # also an unclosed "[" of an IPv6 address
        parts = None
    if not parts or parts.scheme not in ("http", "https") or not parts.netloc:
        raise CommandError(f"--url must be an http(s) address, not {url!r}.")
    return parts


def _send(post: Post) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", "User-Agent": "LeadCRM send_test_webhook"}
    request = urllib.request.Request(
        post.url, data=post.body, headers={**headers, **post.headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:  # 4xx/5xx still carry the JSON answer
        return exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CommandError(
            f"Could not reach {post.url} ({reason}). Is the server running? Try `make run`."
        ) from None


def _pretty(answer: bytes) -> str:
    try:
        return json.dumps(json.loads(answer), indent=2, ensure_ascii=False)
    except ValueError:
        return answer.decode("utf-8", errors="replace")
