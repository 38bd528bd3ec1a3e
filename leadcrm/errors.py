"""JSON errors — `{"error": code, "detail": sentence}` — on webhook, API and health paths; the
admin's own 403 page on admin paths. The webhooks' own refusals are `leadcrm.webhooks.WebhookError`.
"""

from django.contrib import admin
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import defaults

JSON_PATHS = ("/webhooks/", "/api/", "/healthz/")


def _json_or_html(status: int, code: str, detail: str, html_view):
    def view(request, exception=None):
        if request.path.startswith(JSON_PATHS):
            return JsonResponse({"error": code, "detail": detail}, status=status)
        return html_view(request) if exception is None else html_view(request, exception)

    return view


def _is_staff_in_admin(request) -> bool:
    # Without `request.user` (refused before the authentication middleware ran) the admin's
    # context cannot be built; who is not staff is not shown the admin's navigation.
    in_admin = request.path.startswith(reverse("admin:index"))
    return in_admin and hasattr(request, "user") and admin.site.has_permission(request)


def _forbidden_page(request, exception=None):
    # Staff who lack one permission keep the admin around them (header, navigation, a way back
    # Home) instead of a bare page.
    if _is_staff_in_admin(request):
        context = {**admin.site.each_context(request), "title": "Permission denied"}
        return render(request, "admin/403.html", context, status=403)
    return defaults.permission_denied(request, exception)


def _bad_request_page(request, exception=None):
    # Mostly a list address with a lookup its filters do not offer (leads.admin lookup_allowed).
    if _is_staff_in_admin(request):
        context = {**admin.site.each_context(request), "title": "This address cannot be shown"}
        return render(request, "admin/400.html", context, status=400)
    return defaults.bad_request(request, exception)


bad_request = _json_or_html(400, "bad_request", "The request could not be read.", _bad_request_page)
permission_denied = _json_or_html(403, "forbidden", "You may not do this.", _forbidden_page)
page_not_found = _json_or_html(
    404, "not_found", "There is nothing at this address.", defaults.page_not_found
)
server_error = _json_or_html(
    500,
    "server_error",
    "Something went wrong on our side; it has been logged.",
    defaults.server_error,
)
