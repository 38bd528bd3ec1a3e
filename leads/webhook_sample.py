"""`send_test_webhook crf`: a CRF Connect lead (the sample, or --file), with the configured secret
header."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

from leadcrm.samples import Post, add_url, webhook_url

NAME = "crf"
HELP = __doc__.split(": ", 1)[1]
SAMPLE_LEAD = Path(__file__).resolve().parent / "samples" / "crf_lead.json"


def add_arguments(parser) -> None:
    add_url(parser)
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
    url = webhook_url(options["url"], "crf-leads-webhook")
    return Post(url, body, {settings.CRF_WEBHOOK_HEADER: secret})


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
