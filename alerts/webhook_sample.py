"""`send_test_webhook crs`: a CRS notification batch (--count items of --type), with the configured
Basic credentials: the counterpart of CRS's own "Webhook Test" request."""

import base64
import json
import time
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.management.base import CommandError

from leadcrm.samples import Post, add_url, webhook_url

NAME = "crs"
HELP = __doc__.split(": ", 1)[1]


def add_arguments(parser) -> None:
    add_url(parser)
    parser.add_argument("--type", default="TEST", help="notification type (default TEST)")
    parser.add_argument("--count", type=int, default=1, help="items in the batch (default 1)")


def build(options: dict) -> Post:
    username, password = settings.CRS_WEBHOOK_USERNAME, settings.CRS_WEBHOOK_PASSWORD
    if not (username and password):
        raise CommandError(
            "CRS_WEBHOOK_USERNAME / CRS_WEBHOOK_PASSWORD are not set (see .env.example)."
        )
    if options["count"] < 1:
        raise CommandError("--count must be at least 1.")
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    batch = _batch(options["type"], options["count"])
    url = webhook_url(options["url"], "crs-alerts-webhook")
    return Post(url, json.dumps(batch).encode(), {"Authorization": f"Basic {token}"})


def _batch(alert_type: str, count: int) -> list[dict]:
    user_id, host_id, now = str(uuid.uuid4()), str(uuid.uuid4()), int(time.time())
    item = {"type": alert_type, "user_id": user_id, "host_id": host_id, "time": now}
    if alert_type == "ACCALERT":
        item |= {"alert_date": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}", "alert_source": "Equifax"}
    return [{"id": str(uuid.uuid4()), **item, "alert_id": str(uuid.uuid4())} for _ in range(count)]
