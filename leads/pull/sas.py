"""Azure Storage SAS URLs (docs/contract.md#6-pulling-leads-from-azure-storage): checked before
any use, shown without their signature (`leadcrm.logs.redact`), and read for their expiry."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlunsplit

from django.utils.dateparse import parse_date, parse_datetime

from leadcrm.logs import redact

AZURE_HOST_SUFFIX = ".core.windows.net"
EXPIRY_NOTICE = timedelta(days=30)
# RFC 3986 appendix B with the scheme and the authority required: the authority runs to the
# first / ? or # (urllib3 also stops at a backslash, which is refused before this is used).
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)"
    r"(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#.*)?"
)
_AUTHORITY = re.compile(r"(?P<host>[A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]*))?")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_NAME = re.compile(r"[A-Za-z0-9$-]{1,63}")


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
    The URL is read strictly, so that the host checked is the host the HTTP client connects to:
    urlsplit and urllib3 disagree on backslashes, user-info and non-ASCII characters, and
    anything they could disagree on is refused rather than interpreted.
    """
    url = url.strip()
    _check_characters(url)
    parts = _URL.fullmatch(url)
    if parts is None:
        raise UnsafeSasUrl("it is not an absolute URL (scheme://host/path?query)")
    scheme, authority = parts["scheme"].lower(), parts["authority"]
    host = _check_host(scheme, _host(authority), allowed_hosts)
    query = parse_qs(parts["query"] or "")
    if not query.get("sig"):
        raise UnsafeSasUrl("it carries no shared access signature (no sig parameter)")
    segments = _resource_segments(parts["path"], path_style=not host.endswith(AZURE_HOST_SUFFIX))
    return SasUrl(
        url=urlunsplit((scheme, authority, "/" + "/".join(segments), parts["query"], "")),
        resource="/".join(segments if len(segments) > 1 else [host.split(".")[0], *segments]),
        expires_at=_expiry(query.get("se", [""])[0]),
        permissions=query.get("sp", [""])[0],
    )


def _check_characters(url: str) -> None:
    """Printable ASCII only. Clients differ on the rest: urlsplit drops tabs and newlines and
    refuses what NFKC turns into a delimiter (a full-width slash), IDNA maps full-width letters
    to ASCII, and urllib3 ends the host at a backslash where urlsplit reads it as user-info."""
    for position, char in enumerate(url, start=1):
        if char == "\\":
            raise UnsafeSasUrl(
                f"it holds a backslash (character {position}), which HTTP clients read differently"
            )
        if not "!" <= char <= "~":
            kind = "a non-ASCII" if ord(char) > 0x7F else "a space or control"
            raise UnsafeSasUrl(
                f"it holds {kind} character (U+{ord(char):04X} at character {position}); "
                "a SAS URL is plain ASCII"
            )


def _host(authority: str) -> str:
    """The host of `host[:port]`, lowercased; user-info and percent-encoding are refused, since
    they let the host a person reads differ from the one a client connects to."""
    if "@" in authority:
        raise UnsafeSasUrl("it holds user-info (an @ before the host), which hides the real host")
    if "%" in authority:
        raise UnsafeSasUrl("its host or port is percent-encoded")
    found = _AUTHORITY.fullmatch(authority)
    if found is None:
        raise UnsafeSasUrl("its host and port are not host[:port]")
    port = found["port"]
    if port is not None and not (port and len(port) <= 5 and 1 <= int(port) <= 65535):
        shown = f" {port!r}" if len(port) <= 5 else ""  # int() of thousands of digits fails
        raise UnsafeSasUrl(f"its port{shown} is not a number from 1 to 65535")
    if not found["host"]:
        raise UnsafeSasUrl("it names no host")
    return found["host"].lower()


def _check_host(scheme: str, host: str, allowed_hosts: Iterable[str]) -> str:
    if host.strip("[]") in {allowed.strip().strip("[]").lower() for allowed in allowed_hosts}:
        if scheme not in ("http", "https"):
            raise UnsafeSasUrl(f"it is {scheme}, not http or https")
        return host
    if scheme != "https":
        raise UnsafeSasUrl(f"it is {scheme}, not https")
    if host.startswith("["):
        raise UnsafeSasUrl(
            f"its host {host} is an IPv6 address, and is not listed in CRF_AZURE_ALLOWED_HOSTS"
        )
    labels = host.split(".")
    if len(host) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise UnsafeSasUrl(
            f"its host {host!r} is not a plain DNS name (letters, digits and hyphens in labels "
            "separated by single dots, no trailing dot)"
        )
    if not host.endswith(AZURE_HOST_SUFFIX):
        raise UnsafeSasUrl(
            f"its host {host!r} is not an Azure Storage host (*{AZURE_HOST_SUFFIX}) and is not "
            "listed in CRF_AZURE_ALLOWED_HOSTS"
        )
    return host


def _resource_segments(path: str, *, path_style: bool) -> list[str]:
    """The queue or container name, after the account name when the account is in the path
    (the emulator's http://127.0.0.1:10001/devstoreaccount1/queue).

    CRF's queue URLs end in `/messages` (the REST path that adds a message); the SDK wants the
    queue itself. Only a segment beyond the name is dropped, so a queue named "messages" stays.
    Azure names are letters, digits and hyphens (and `$` in `$root`, `$web`, `$logs`): nothing
    else is shown as the resource or stored as a run's target.
    """
    segments = [segment for segment in path.split("/") if segment]
    if not all(_NAME.fullmatch(segment) for segment in segments):
        raise UnsafeSasUrl(
            "its path holds more than account, queue or container names (letters, digits, hyphens)"
        )
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
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:  # in UTC here: 0001-01-01T00:00+05:00 has no UTC date, and would fail where it is shown
        return moment.astimezone(UTC)
    except OverflowError:  # before year 1 or after 9999 in UTC: the nearest one there is
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


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
