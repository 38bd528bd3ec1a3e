"""The leads dashboard in the admin: HTTP only (permission, the filter form, the answer).

The numbers come from `numbers`, the charts' geometry from `charts`; `urls` wraps the view in
`admin.site.admin_view` (staff login, no caching).
"""

from datetime import date

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, QueryDict
from django.template.response import TemplateResponse
from django.utils import timezone

from leads.models import Product

from . import charts, numbers


def _date_input() -> forms.DateInput:
    # The browser's own date picker: no admin calendar script.
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class DashboardFilterForm(forms.Form):
    date_from = forms.DateField(label="Created from", widget=_date_input())
    date_to = forms.DateField(label="to", widget=_date_input())
    product = forms.ModelChoiceField(
        Product.objects.only("name", "crf_key"),
        required=False,
        empty_label="All products",
        label="Matched product",
    )

    def __init__(self, query: QueryDict, *, today: date):
        # Always bound, with the defaults filled in, so that the fields show the range in use.
        # The default range starts on the weekly chart's first Monday: both cover the same leads.
        defaults = {"date_from": numbers.first_week(today), "date_to": today}
        given = {name: value for name, value in query.items() if value}
        super().__init__({**{name: day.isoformat() for name, day in defaults.items()}, **given})

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data


CACHE_SECONDS = 300


def dashboard_view(request: HttpRequest) -> TemplateResponse:
    if not request.user.has_perm("leads.view_lead"):
        raise PermissionDenied
    form = DashboardFilterForm(request.GET, today=timezone.localdate())
    context = {
        **admin.site.each_context(request),
        "title": "Leads dashboard",
        "form": form,
        "weeks": numbers.WEEKS,
        "first_contact_hours": settings.LEAD_FIRST_CONTACT_HOURS,
        "palette": charts.palette(),
    }
    if form.is_valid():
        data = form.cleaned_data
        product_id = data["product"].pk if data["product"] else None
        # Computed at most every CACHE_SECONDS per range and product: at a million leads the
        # page's aggregates take seconds, and the numbers need not be live to the second.
        key = f"leads.dashboard:{data['date_from']}:{data['date_to']}:{product_id}"
        drawn = cache.get_or_set(
            key,
            lambda: charts.charts(data["date_from"], data["date_to"], product_id),
            CACHE_SECONDS,
        )
        context.update(data, charts=drawn)
    return TemplateResponse(request, "admin/leads/dashboard.html", context)
