"""CRF's Lead Management API, as its public pages describe it (docs/contract.md#16-dispositions).

Three outcomes, each a type: `Sent`, `Retry` (a timeout, a connection error, 429 or 5xx: try again
later; `maybe_applied` when CRF may have acted on it anyway) and `Refused` (any other answer: a
person must look). The key travels only in the request header; nothing returned carries it.
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from django.conf import settings
from urllib3.exceptions import NewConnectionError

log = logging.getLogger(__name__)

# Answers worth trying again: CRF publishes no rate limits or retry rules, so these are HTTP's.
RETRIED = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Sent:
    pass


@dataclass(frozen=True)
class Retry:
    error: str
    maybe_applied: bool = False  # the request may have reached CRF: read back before re-posting
    after: float | None = None  # seconds, from Retry-After


@dataclass(frozen=True)
class Refused:
    error: str
    problem: dict = field(default_factory=dict)  # CRF's ProblemDetails, when it sent one


@dataclass(frozen=True)
class ReadBack:
    status: str


def configured() -> bool:
    return bool(settings.CRF_API_KEY)


def update_lead(body: dict) -> Sent | Retry | Refused:
    """POST {CRF_API_URL}/api/v1/{route}/leads with a disposition's body.

    Redirects are not followed, here or in `read_lead`: requests would carry the x-api-key header
    to wherever Location points, and turn a POST answered 301/302 into a GET whose 200 would pass
    for the update taken. A redirect is Refused: a person checks CRF_API_URL."""
    try:
        with _session() as session:
            response = session.post(
                _leads_url(), json=body, timeout=settings.CRF_API_TIMEOUT, allow_redirects=False
            )
    except requests.ConnectTimeout:
        return Retry("CRF did not accept the connection in time")
    except requests.ConnectionError as exc:
        # A connection never made never reached CRF; one dropped mid-request may have.
        return Retry(f"Could not reach CRF ({_reason(exc)})", maybe_applied=_connected(exc))
    except requests.Timeout:
        return Retry("CRF did not answer in time", maybe_applied=True)
    if response.status_code < 300:
        return Sent()
    return _failure(response)


def read_lead(lead_id) -> ReadBack | Retry | Refused:
    """GET {CRF_API_URL}/api/v1/{route}/leads?leadId=…: the status CRF shows for the lead."""
    try:
        with _session() as session:
            response = session.get(
                _leads_url(),
                params={"leadId": str(lead_id)},
                timeout=settings.CRF_API_TIMEOUT,
                allow_redirects=False,
            )
    except requests.RequestException as exc:
        return Retry(f"Could not read the lead from CRF ({_reason(exc)})")
    if response.status_code >= 300:
        return _failure(response)
    try:
        status = response.json()["status"]
    except (ValueError, KeyError, TypeError):
        return Refused("CRF's answer has no status", {})
    return ReadBack(str(status))


def _session() -> requests.Session:
    # HTTPS_PROXY and the like are honoured: a lender's network may send everything through one.
    session = requests.Session()
    session.headers.update({"x-api-key": settings.CRF_API_KEY, "Accept": "application/json"})
    return session


def _leads_url() -> str:
    return f"{settings.CRF_API_URL}/api/v1/{settings.CRF_PARTNER_ROUTE}/leads"


def _failure(response: requests.Response) -> Retry | Refused:
    problem = _problem(response)
    words = problem.get("detail") or problem.get("title") or response.reason or ""
    error = f"CRF answered {response.status_code}" + (f": {words}" if words else "")
    if response.status_code in RETRIED:
        return Retry(error, after=_retry_after(response.headers.get("Retry-After")))
    if response.status_code in (401, 403):
        error += " (check CRF_API_KEY and CRF_PARTNER_ROUTE)"
    elif 300 <= response.status_code < 400:
        error += " (a redirect, not followed: check CRF_API_URL)"
    return Refused(error, problem)


def _problem(response: requests.Response) -> dict:
    """CRF's ProblemDetails (RFC 7807), its known members as text; {} for any other body."""
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    known = ("type", "title", "status", "detail", "instance", "errors")
    return {
        key: value if isinstance(value, int | str) else json.dumps(value)[:2000]
        for key, value in body.items()
        if key in known and value is not None
    }


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _connected(exc: requests.ConnectionError) -> bool:
    # requests wraps urllib3's MaxRetryError, whose reason says whether a connection was made
    # (a name that did not resolve is a NewConnectionError too).
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return not isinstance(reason, NewConnectionError)


def _reason(exc: Exception) -> str:
    # The type, not the message: a message can carry the URL, and never the headers, but the type
    # is all a person needs here.
    return type(exc).__name__
