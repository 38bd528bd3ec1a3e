"""What each app's `webhook_sample` (a target of `send_test_webhook`) builds on: the request to
post, and the webhook's address from what a person types."""

from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

from django.core.management.base import CommandError
from django.urls import reverse

BASE_URL = "http://127.0.0.1:8000"


@dataclass
class Post:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def add_url(parser) -> None:
    parser.add_argument(
        "--url",
        default=BASE_URL,
        help=f"the server (default {BASE_URL}), or the webhook's full URL",
    )


def webhook_url(given: str, name: str) -> str:
    """The address as typed: a server (nothing after the host) gets the webhook's path from the
    URLconf; any other URL is the webhook's own, used as it is."""
    parts = split(given)
    if parts.path.strip("/"):
        return given
    return urlunsplit(parts._replace(path=reverse(name)))


def split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port out of range, as urllib would later)
    except ValueError:  # also an unclosed "[" of an IPv6 address
        parts = None
    if not parts or parts.scheme not in ("http", "https") or not parts.netloc:
        raise CommandError(f"--url must be an http(s) address, not {url!r}.")
    return parts
