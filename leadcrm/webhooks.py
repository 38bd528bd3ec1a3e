"""What the CRF and CRS webhook views share: authentication, body limits, database failure and
the JSON error answers (docs/contract.md#4-http-endpoints).

Plain Django views, not a REST framework's: a webhook reads its raw body itself and answers one
JSON shape, so content negotiation, parsers, renderers and permission classes would only cost
time on every delivery (about 70 µs of CPU each; docs/benchmarks.md). For the same reason a
webhook's request skips the middleware made for people's pages (`WebhookMiddleware`).
"""

import base64
import binascii
import hmac
from collections.abc import Iterable
from contextlib import contextmanager

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import View
from django.views.decorators.csrf import csrf_exempt


class WebhookError(Exception):
    """An answer in the error shape, `{"error": code, "detail": sentence}`: nothing was kept."""

    status = 400
    code = "invalid"
    detail = "The request is not valid."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.detail)
        self.detail = detail or self.detail
        self.headers = headers or {}

    def response(self) -> JsonResponse:
        answer = JsonResponse({"error": self.code, "detail": self.detail}, status=self.status)
        for name, value in self.headers.items():
            answer[name] = value
        return answer


class AuthenticationFailed(WebhookError):
    status = 401
    code = "authentication_failed"


class MethodNotAllowed(WebhookError):
    status = 405
    code = "method_not_allowed"


class ServiceUnavailable(WebhookError):
    status = 503
    retry_after = 30  # seconds; sent as Retry-After

    def response(self) -> JsonResponse:
        answer = super().response()
        answer["Retry-After"] = str(self.retry_after)
        return answer


class NotConfigured(ServiceUnavailable):
    code = "not_configured"
    detail = "This endpoint has no credentials configured yet, so it accepts nothing."


class DatabaseUnavailable(ServiceUnavailable):
    code = "database_unavailable"
    detail = "The delivery could not be stored. Nothing was kept; please send it again."


class PayloadTooLarge(WebhookError):
    status = 413
    code = "payload_too_large"


class LengthRequired(WebhookError):
    status = 411
    code = "length_required"
    detail = (
        "This server cannot read a chunked body: send it with a Content-Length. Nothing was kept."
    )


class WebhookView(View):
    """A partner's POST: its credentials checked first, whatever the method or body, then the
    method, then `post`. Every refusal is a `WebhookError`, answered in JSON whatever the
    sender's Accept header says: a 406 would keep nothing, and a sender re-sending with the same
    header would never get its delivery in. No CSRF: the partner holds a credential, not a
    cookie."""

    @classmethod
    def as_view(cls, **initkwargs):
        return csrf_exempt(super().as_view(**initkwargs))

    def authenticate(self, request: HttpRequest) -> None:
        """Raise NotConfigured or AuthenticationFailed; return when the sender is who it says."""
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            self.authenticate(request)
            if request.method != "POST":
                raise MethodNotAllowed(
                    f'Method "{request.method}" not allowed.', headers={"Allow": "POST"}
                )
            return self.post(request)
        except WebhookError as refusal:
            return refusal.response()


def secret_matches(supplied: str | None, accepted: Iterable[str]) -> bool:
    """Constant-time comparison against every accepted secret (several during a rotation)."""
    supplied_bytes = (supplied or "").encode()
    matched = False
    for secret in accepted:
        # No early exit: the time taken does not say which secret, if any, matched.
        matched |= hmac.compare_digest(supplied_bytes, secret.encode())
    return matched and bool(supplied)


def require_header_secret(request: HttpRequest) -> None:
    """A shared secret in a request header of our choosing (CRF Connect)."""
    accepted = [s for s in settings.CRF_WEBHOOK_SECRET if s]
    if not accepted:
        raise NotConfigured()
    supplied = request.headers.get(settings.CRF_WEBHOOK_HEADER)
    if not secret_matches(supplied, accepted):
        challenge = f'ApiKey header="{settings.CRF_WEBHOOK_HEADER}"'
        raise AuthenticationFailed(
            "Missing or wrong secret.", headers={"WWW-Authenticate": challenge}
        )


def require_basic_credentials(request: HttpRequest) -> None:
    """HTTP Basic against configured credentials (CRS), never the user table: password hashing
    there would cap the endpoint at a few requests a second."""
    username = settings.CRS_WEBHOOK_USERNAME
    passwords = [settings.CRS_WEBHOOK_PASSWORD, settings.CRS_WEBHOOK_PASSWORD_PREVIOUS]
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
        raise AuthenticationFailed(
            "Missing or wrong credentials.", headers={"WWW-Authenticate": 'Basic realm="crs"'}
        )


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


# What is read and thrown away of a body refused as too large, so that the server can close the
# connection after the answer instead of resetting it under the sender's feet.
DRAIN_LIMIT = 8 * 1024 * 1024
CHUNK = 64 * 1024


def read_body(request: HttpRequest, limit: int) -> bytes:
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
            _drain(request, min(int(declared) if declared.isdigit() else 0, DRAIN_LIMIT))
            raise PayloadTooLarge(f"The body is larger than {limit} bytes.")
        stream = request
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


class WebhookMiddleware:
    """A webhook's request goes from here straight to its view, past the middleware after this
    one: static files, sessions, CSRF, the signed-in user, messages, clickjacking and the login
    lockout are for people's pages, and cost a webhook 0.1 ms of CPU on every delivery
    (docs/benchmarks.md). Listed after SecurityMiddleware, whose HTTPS redirect and headers a
    webhook keeps. Every other request, and a path no view answers, goes on as before.

    The Host header is checked against ALLOWED_HOSTS here, as CommonMiddleware checks it for
    every other request (a 400). What a view raises is answered as anywhere else (Django's
    handler around each middleware: a 500, logged). `request.resolver_match` is set, as Django
    sets it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        view_class = getattr(match.func, "view_class", None)
        if not (isinstance(view_class, type) and issubclass(view_class, WebhookView)):
            return self.get_response(request)
        request.get_host()  # DisallowedHost: a 400, as for any page
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)
