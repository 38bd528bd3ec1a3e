"""JSON errors — `{"error": code, "detail": sentence}` — on webhook, API and health paths."""

from django.http import JsonResponse
from django.views import defaults
from rest_framework.views import exception_handler as drf_exception_handler

from .webhooks import ServiceUnavailable

JSON_PATHS = ("/webhooks/", "/api/", "/healthz/")


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django answers 500 through `server_error` below
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        detail = data["detail"]
        response.data = {"error": getattr(detail, "code", "error"), "detail": str(detail)}
    else:
        response.data = {"error": "invalid", "detail": "The request is not valid.", "fields": data}
    if isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _json_or_html(status: int, code: str, detail: str, html_view):
    def view(request, exception=None):
        if request.path.startswith(JSON_PATHS):
            return JsonResponse({"error": code, "detail": detail}, status=status)
        return html_view(request) if exception is None else html_view(request, exception)

    return view


bad_request = _json_or_html(400, "bad_request", "The request could not be read.", defaults.bad_request)
permission_denied = _json_or_html(
    403, "forbidden", "You may not do this.", defaults.permission_denied
)
page_not_found = _json_or_html(
    404, "not_found", "There is nothing at this address.", defaults.page_not_found
)
server_error = _json_or_html(
    500, "server_error", "Something went wrong on our side; it has been logged.", defaults.server_error
)
