"""Azure Storage SAS URLs (CONTRACT §3): checked before any use, shown without their signature,
and read for their expiry.

Kept apart from `leads.pull` and free of model imports: the log filter below is loaded while
Django configures logging, before the apps are ready.
"""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit, urlunsplit

from django.utils.dateparse import parse_date, parse_datetime
from django.views.debug import SafeExceptionReporterFilter

AZURE_HOST_SUFFIX = ".core.windows.net"
EXPIRY_NOTICE = timedelta(days=30)
REDACTED = "REDACTED"
# The signature however it is quoted: `sig=…` in a URL, `sig%3D…` in a URL inside another one.
_SIGNATURE = re.compile(r"(?i)(sig(?:=|%3D))[^&\s'\"<>]+")


class UnsafeSasUrl(ValueError):
    """A URL LeadCRM will not contact: the message says why, and never holds the signature."""


@dataclass(frozen=True, repr=False)
class SasUrl:
    url: str  # what the SDK is given: a queue URL without CRF's trailing /messages
    resource: str  # "account/queue" or "account/container": what logs and the admin show
    expires_at: datetime | None  # `se=`; None when the SAS names a stored access policy instead
    permissions: str  # `sp=`

    def __str__(self) -> str:
        return redact(self.url)

    def __repr__(self) -> str:  # debug pages and tracebacks show locals
        return f"SasUrl({self})"


def parse(url: str, allowed_hosts: Iterable[str] = ()) -> SasUrl:
    """A SAS URL from the configuration, or `UnsafeSasUrl`.

    Only https on `*.core.windows.net` is contacted, unless the host is listed in
    `allowed_hosts` (CRF_AZURE_ALLOWED_HOSTS, for the emulator): the URL carries a credential.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    _check_host(parts.scheme, host, allowed_hosts)
    query = parse_qs(parts.query)
    if not query.get("sig"):
        raise UnsafeSasUrl("it carries no shared access signature (no sig parameter)")
    segments = _resource_segments(parts.path, path_style=not host.endswith(AZURE_HOST_SUFFIX))
    return SasUrl(
        url=urlunsplit((parts.scheme, parts.netloc, "/" + "/".join(segments), parts.query, "")),
        resource="/".join(segments if len(segments) > 1 else [host.split(".")[0], *segments]),
        expires_at=_expiry(query.get("se", [""])[0]),
        permissions=query.get("sp", [""])[0],
    )


def _check_host(scheme: str, host: str, allowed_hosts: Iterable[str]) -> None:
    if host and host in {allowed.strip().lower() for allowed in allowed_hosts}:
        return
    if scheme != "https":
        raise UnsafeSasUrl(f"it is {scheme or 'not a URL'}, not https")
    if not host.endswith(AZURE_HOST_SUFFIX):
        raise UnsafeSasUrl(
            f"its host {host!r} is not an Azure Storage host (*{AZURE_HOST_SUFFIX}) and is not "
            "listed in CRF_AZURE_ALLOWED_HOSTS"
        )


def _resource_segments(path: str, *, path_style: bool) -> list[str]:
    """The queue or container name, after the account name when the account is in the path
    (the emulator's http://127.0.0.1:10001/devstoreaccount1/queue).

    CRF's queue URLs end in `/messages` (the REST path that adds a message); the SDK wants the
    queue itself. Only a segment beyond the name is dropped, so a queue named "messages" stays.
    """
    segments = [segment for segment in path.split("/") if segment]
    needed = 2 if path_style else 1
    if len(segments) > needed and segments[-1].lower() == "messages":
        segments = segments[:-1]
    if len(segments) != needed:
        raise UnsafeSasUrl("its path does not name one queue or container")
    return segments


def _expiry(value: str) -> datetime | None:
    """`se=` is ISO 8601 in UTC: a date and time, or a date alone."""
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:
        return None
    if day:
        moment = datetime.combine(day, time.min)
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def expiry_warning(setting: str, sas: SasUrl, now: datetime) -> str | None:
    """A sentence for /healthz/ and the admin once the SAS is within EXPIRY_NOTICE of expiring."""
    if sas.expires_at is None or sas.expires_at - now > EXPIRY_NOTICE:
        return None
    when = sas.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if sas.expires_at <= now:
        return (
            f"The SAS in {setting} ({sas.resource}) expired on {when}: "
            "pulling fails until it is replaced."
        )
    days = (sas.expires_at - now).days
    return (
        f"The SAS in {setting} ({sas.resource}) expires on {when} (in {days} days): "
        f"create a new one and update {setting}."
    )


def redact(text: str) -> str:
    return _SIGNATURE.sub(rf"\g<1>{REDACTED}", text)


class RedactSignatures(logging.Filter):
    """Takes SAS signatures out of every record a handler writes.

    LeadCRM never logs a SAS URL itself; this is for libraries that put request URLs in their
    messages and exceptions (urllib3, azure-core) at whatever level someone turns on.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        if "sig" in message.lower():
            record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RedactingReporterFilter(SafeExceptionReporterFilter):
    """Django's debug page and error reports list the settings: the SAS URLs go without their
    signature (Django hides settings by name, and CRF_AZURE_QUEUE_URL names no secret)."""

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        return redact(value) if isinstance(value, str) else value
