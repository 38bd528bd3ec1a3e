"""What the CRF and CRS webhook views share: authentication, body limits and database failure."""

import hmac
from collections.abc import Iterable
from contextlib import contextmanager

from django.conf import settings
from django.db import InterfaceError, OperationalError
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication


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


def read_body(request, limit: int) -> bytes:
    """The raw body, refused with 413 past `limit` bytes (checked before reading when declared)."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
    body = request._request.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
    return body


@contextmanager
def database_errors_as_503():
    """A database that cannot take the delivery is a 503 the sender retries, never a 2xx or a 500."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable() from exc
