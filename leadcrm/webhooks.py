"""What the CRF and CRS webhook views share: authentication, body limits and database failure."""

import base64
import binascii
import hmac
from collections.abc import Iterable
from contextlib import contextmanager

from django.conf import settings
from django.db import InterfaceError, OperationalError
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.negotiation import BaseContentNegotiation


class WebhookSender:
    """The `request.user` of an authenticated webhook request: a partner, not a person."""

    is_authenticated = True

    def __init__(self, name: str):
        self.name = name


class ServiceUnavailable(exceptions.APIException):
    status_code = 503
    retry_after = 30  # seconds; sent as Retry-After


class NotConfigured(ServiceUnavailable):
    default_code = "not_configured"
    default_detail = "This endpoint has no credentials configured yet, so it accepts nothing."


class DatabaseUnavailable(ServiceUnavailable):
    default_code = "database_unavailable"
    default_detail = "The delivery could not be stored. Nothing was kept; please send it again."


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "payload_too_large"


class AnswerInJSON(BaseContentNegotiation):
    """A webhook answers JSON whatever the sender's Accept header says. DRF's own negotiation
    answers 406 to `Accept: application/xml` before the view runs, so nothing was stored and the
    sender, re-sending with the same header, never got its delivery in."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None  # the webhooks read their raw body themselves

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def secret_matches(supplied: str | None, accepted: Iterable[str]) -> bool:
    """Constant-time comparison against every accepted secret (several during a rotation)."""
    supplied_bytes = (supplied or "").encode()
    matched = False
    for secret in accepted:
        # No early exit: the time taken does not say which secret, if any, matched.
        matched |= hmac.compare_digest(supplied_bytes, secret.encode())
    return matched and bool(supplied)


class HeaderSecretAuthentication(BaseAuthentication):
    """A shared secret in a request header of our choosing (CRF Connect)."""

    sender = "crf"
    header_setting = "CRF_WEBHOOK_HEADER"
    secrets_setting = "CRF_WEBHOOK_SECRET"

    def authenticate(self, request):
        accepted = [s for s in getattr(settings, self.secrets_setting) if s]
        if not accepted:
            raise NotConfigured()
        supplied = request.headers.get(getattr(settings, self.header_setting))
        if not secret_matches(supplied, accepted):
            raise exceptions.AuthenticationFailed("Missing or wrong secret.")
        return WebhookSender(self.sender), None

    def authenticate_header(self, request) -> str:
        return f'ApiKey header="{getattr(settings, self.header_setting)}"'


class BasicCredentialsAuthentication(BaseAuthentication):
    """HTTP Basic against configured credentials (CRS), never the user table: password hashing
    there would cap the endpoint at a few requests a second."""

    sender = "crs"
    realm = "crs"
    username_setting = "CRS_WEBHOOK_USERNAME"
    password_settings = ("CRS_WEBHOOK_PASSWORD", "CRS_WEBHOOK_PASSWORD_PREVIOUS")

    def authenticate(self, request):
        username = getattr(settings, self.username_setting)
        passwords = [getattr(settings, name) for name in self.password_settings]
        # The current password must be set: the previous one alone is a rotation left half-done,
        # and the endpoint stays closed, as the silence watch and the test sender take it.
        if not username or not passwords[0]:
            raise NotConfigured()
        passwords = [p for p in passwords if p]
        supplied = _basic_credentials(request.headers.get("Authorization", ""))
        # Both comparisons always run: the time taken does not say which part was wrong.
        user_ok = secret_matches(supplied[0], [username])
        password_ok = secret_matches(supplied[1], passwords)
        if not (user_ok and password_ok):
            raise exceptions.AuthenticationFailed("Missing or wrong credentials.")
        return WebhookSender(self.sender), None

    def authenticate_header(self, request) -> str:
        return f'Basic realm="{self.realm}"'


def _basic_credentials(header: str) -> tuple[str, str]:
    """(username, password) from a Basic header; empty for anything else, whatever its bytes."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.isascii():
        return "", ""  # b64decode raises a plain ValueError on non-ASCII text
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    username, _, password = decoded.partition(":")
    return username, password


class LengthRequired(exceptions.APIException):
    status_code = 411
    default_code = "length_required"
    default_detail = (
        "This server cannot read a chunked body: send it with a Content-Length. Nothing was kept."
    )


# What is read and thrown away of a body refused as too large, so that the server can close the
# connection after the answer instead of resetting it under the sender's feet.
DRAIN_LIMIT = 8 * 1024 * 1024
CHUNK = 64 * 1024


def read_body(request, limit: int) -> bytes:
    """The raw body, up to `limit` bytes; past it 413, checked before reading when declared.

    A chunked body (.NET's HttpClient sends JSON that way, with no Content-Length) is read from
    the server's input stream, which the server ends at the last chunk: Django's own stream
    reads nothing without a length. A server that does not promise that (`wsgi.input_terminated`)
    could leave the read hanging, so there such a body is answered 411 and nothing is kept.
    """
    meta = request.META
    declared = meta.get("CONTENT_LENGTH") or ""
    if declared:
        if not declared.isdigit() or int(declared) > limit:
            _drain(request._request, min(int(declared) if declared.isdigit() else 0, DRAIN_LIMIT))
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
        stream = request._request
    elif "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        if not meta.get("wsgi.input_terminated"):
            raise LengthRequired()
        stream = meta["wsgi.input"]
    else:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        _drain(stream, DRAIN_LIMIT)
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
    return body


def _drain(stream, at_most: int) -> None:
    while at_most > 0 and (chunk := stream.read(min(CHUNK, at_most))):
        at_most -= len(chunk)


@contextmanager
def database_errors_as_503():
    """A database that cannot take the delivery is a 503 the sender retries, never a 2xx or 500."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable() from exc
