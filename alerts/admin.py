"""CRS alerts in the workspace: read-only alerts and batches (staff mark alerts handled), people
linked to their leads, and notification rules."""

from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from leadcrm.admin import (
    FIT_LIST_CSS,
    EstimatedCountPaginator,
    PresenceFilter,
    ViewOnly,
    problem_list,
    uuid_or_none,
    when,
)
from leads.admin.display import clipped
from leads.models import Lead

from . import services
from .models import (
    TEMPLATE_FIELDS,
    Alert,
    AlertDelivery,
    AlertType,
    CRSUser,
    Notification,
    NotificationRule,
    template_names,
)


class HasErrorFilter(PresenceFilter):
    title = "error"
    parameter_name = "has_error"
    present = ~Q(error_code="")
    labels = ("Has an error code", "No error")


class TypeFilter(admin.SimpleListFilter):
    """Known types by their descriptions (docs/contract.md#crs-alert-types), plus any type CRS
    added since, as sent."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        known = dict(AlertType.choices)
        # DISTINCT over the (type, time) index: a handful of values however many alerts.
        sent = Alert.objects.order_by().values_list("type", flat=True).distinct()
        return [
            (value, known.get(value, value or "(none)")) for value in sorted(set(sent) | set(known))
        ]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() is not None else queryset


class HandledFilter(PresenceFilter):
    title = "handled"
    parameter_name = "handled"
    present = Q(handled_at__isnull=False)
    labels = ("Handled", "Not handled")


class OnMyLeadsFilter(admin.SimpleListFilter):
    """Alerts about the people linked to the leads assigned to whoever looks. A filter of its own
    rather than a lookup in the query string: the list refuses lookups through its relations."""

    title = "my leads"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("yes", "Alerts on my leads")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(user__lead__assigned_officer=request.user)
        return queryset


@admin.register(Alert)
class AlertAdmin(ViewOnly, admin.ModelAdmin):
    # Long texts come as `clipped` cells, dates as `when`: leadcrm/static/leadcrm/fit_list.css
    # fits the columns beside both sidebars on a 1400-px screen. The host id (one per CRS host,
    # the same on nearly every row) is a filter and on the alert's page, not a column.
    list_display = [
        "sent",
        "type_label",
        "person",
        "lead_link",
        "dated",
        "source",
        "error",
        "handled",
    ]
    list_filter = [
        OnMyLeadsFilter,
        HandledFilter,
        TypeFilter,
        ("time", admin.DateFieldListFilter),
        "alert_source",
        "host_id",
        HasErrorFilter,
    ]
    list_select_related = ["user__lead", "handled_by"]
    search_fields = ["user__name", "user__email"]
    search_help_text = "CRS user name or email, or an exact user id, alert id or hook id."
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ["mark_handled"]
    change_form_template = "admin/alerts/alert/change_form.html"
    exclude = ["problems"]  # shown as a list by listed_problems
    readonly_fields = ["lead_link", "alert_date_sent", "extra", "listed_problems", "handled"]

    class Media:
        css = FIT_LIST_CSS

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        found = uuid_or_none(term)
        if found:  # hook id, user id, or an alert id that happens to be a UUID
            return queryset.filter(Q(pk=found) | Q(user_id=found) | Q(alert_id=term)), False
        by_alert_id = queryset.filter(alert_id=term)
        by_user, _ = super().get_search_results(request, queryset, term)
        return by_alert_id | by_user, False

    def get_urls(self):
        own = [
            path(
                "<uuid:alert_id>/handle/",
                self.admin_site.admin_view(self.handle_view),
                name="alerts_alert_handle",
            )
        ]
        return own + super().get_urls()

    def has_handle_permission(self, request) -> bool:
        return request.user.has_perm(services.HANDLE_PERMISSION)

    @admin.action(description="Mark selected alerts handled", permissions=["handle"])
    def mark_handled(self, request, queryset):
        count = services.mark_handled(queryset, request.user)
        self.message_user(
            request,
            ngettext("Marked %d alert handled.", "Marked %d alerts handled.", count) % count
            + _already_handled(queryset.count() - count),
        )

    def handle_view(self, request, alert_id):
        """The alert page's "Mark handled" form (outside the page's read-only form)."""
        alert = get_object_or_404(Alert, pk=alert_id)
        if request.method != "POST" or not self.has_handle_permission(request):
            raise PermissionDenied
        page = reverse("admin:alerts_alert_change", args=[alert.pk])
        try:
            count = services.mark_handled(
                Alert.objects.filter(pk=alert.pk), request.user, request.POST.get("note", "")
            )
        except ValueError as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return HttpResponseRedirect(page)
        if count:
            self.message_user(request, "Marked the alert handled.")
        else:
            self.message_user(
                request, "Someone had marked this alert handled already.", messages.WARNING
            )
        return HttpResponseRedirect(page)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_handle": self.has_handle_permission(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    @admin.display(description="Time", ordering="time")
    def sent(self, alert: Alert):
        return when(alert.time)

    @admin.display(description="Alert date", ordering="alert_date")
    def dated(self, alert: Alert):
        return when(alert.alert_date)

    @admin.display(description="Type", ordering="type")
    def type_label(self, alert: Alert) -> str:
        return alert.get_type_display() or alert.type or "-"

    @admin.display(description="CRS user", ordering="user__name")
    def person(self, alert: Alert):
        if alert.user_id is None:
            return "-"
        url = reverse("admin:alerts_crsuser_change", args=[alert.user_id])
        return format_html('<a href="{}">{}</a>', url, clipped(alert.user))

    @admin.display(description="Lead")
    def lead_link(self, alert: Alert):
        lead = alert.user.lead if alert.user and alert.user.lead_id else None
        if lead is None:
            return "-"
        url = reverse("admin:leads_lead_change", args=[lead.pk])
        return format_html('<a href="{}">{}</a>', url, clipped(lead))

    @admin.display(description="Source", ordering="alert_source")
    def source(self, alert: Alert):
        return clipped(alert.alert_source)

    @admin.display(description="Error code", ordering="error_code")
    def error(self, alert: Alert):
        return clipped(alert.error_code)

    @admin.display(description="Handled", ordering="handled_at")
    def handled(self, alert: Alert):
        if alert.handled_at is None:
            return "-"
        at = formats.date_format(timezone.template_localtime(alert.handled_at), "DATETIME_FORMAT")
        by = alert.handled_by or "(a former user)"
        summary = f"{by}, {at}" + (f": {alert.handled_note}" if alert.handled_note else "")
        return clipped(summary)

    @admin.display(description="Problems")
    def listed_problems(self, alert: Alert):
        return problem_list(alert.problems)


def _already_handled(count: int) -> str:
    if not count:
        return ""
    return " " + ngettext("%d was handled already.", "%d were handled already.", count) % count


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ViewOnly, admin.ModelAdmin):
    """Raw batches: only for who holds `alerts.view_alertdelivery` (managers, not loan officers)."""

    list_display = ["id", "received_at", "outcome", "items", "accepted", "error"]
    list_filter = ["outcome"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    fields = ["received_at", "outcome", "items", "accepted", "error", "headers", "raw_body"]
    readonly_fields = ["raw_body"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body")  # batches run to megabytes

    @admin.display(description="Body (pretty-printed when it is JSON)")
    def raw_body(self, delivery: AlertDelivery):
        return format_html("<pre>{}</pre>", delivery.pretty_body())


class LeadChoices(AutocompleteSelect):
    """The admin's autocomplete (select2) for a CRS user's lead, asking CRSUserAdmin's own view:
    opened empty it offers the leads with the person's email, then their name; typed, it
    searches leads as the lead list does."""

    def __init__(self, url: str, field, admin_site):
        super().__init__(field, admin_site, attrs={"data-placeholder": "Type to search leads"})
        self.url = url

    def get_url(self) -> str:
        return self.url


PAGE = 20  # leads per page of the lead search


@admin.register(CRSUser)
class CRSUserAdmin(admin.ModelAdmin):
    """Staff tie a credit-monitored person to the lead they are."""

    list_display = ["id", "name", "email", "lead_link"]
    search_fields = ["name", "email"]
    fields = ["id", "name", "email", "lead", "first_seen_at", "alert_list"]
    readonly_fields = ["id", "first_seen_at", "alert_list"]

    def has_add_permission(self, request) -> bool:
        return False  # people arrive with their alerts

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_search_results(self, request, queryset, search_term):
        found = uuid_or_none(search_term)
        if found:
            return queryset.filter(pk=found), False
        return super().get_search_results(request, queryset, search_term)

    def get_urls(self):
        own = [
            path(
                "<uuid:person_id>/leads/",
                self.admin_site.admin_view(self.lead_choices_view),
                name="alerts_crsuser_leads",
            )
        ]
        return own + super().get_urls()

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        lead = form.base_fields.get("lead")
        if lead is not None and obj is not None:
            url = reverse("admin:alerts_crsuser_leads", args=[obj.pk])
            lead.widget = LeadChoices(url, CRSUser._meta.get_field("lead"), self.admin_site)
            lead.widget.choices = lead.choices
            lead.help_text = (
                "Open the list for the leads with this person's email address, then their name; "
                "or type a business, a name, an email address or a phone number."
            )
        return form

    def lead_choices_view(self, request, person_id):
        """The lead field's choices, as the admin's autocomplete reads them (select2's JSON)."""
        person = get_object_or_404(CRSUser, pk=person_id)
        if not (
            self.has_change_permission(request, person) and request.user.has_perm("leads.view_lead")
        ):
            raise PermissionDenied
        term = request.GET.get("term", "").strip()
        if not term:
            return JsonResponse({"results": _suggested(person), "pagination": {"more": False}})
        try:
            page = max(1, int(request.GET.get("page", "1")))
        except ValueError:
            page = 1
        lead_admin = self.admin_site.get_model_admin(Lead)
        found, _ = lead_admin.get_search_results(
            request, Lead.objects.order_by("-date_created"), term
        )
        leads = list(found.only(*LEAD_LABEL_FIELDS)[(page - 1) * PAGE : page * PAGE + 1])
        return JsonResponse(
            {
                "results": [_choice(lead) for lead in leads[:PAGE]],
                "pagination": {"more": len(leads) > PAGE},
            }
        )

    @admin.display(description="Lead", ordering="lead")
    def lead_link(self, person: CRSUser):
        if person.lead_id is None:
            return "-"
        url = reverse("admin:leads_lead_change", args=[person.lead_id])
        return format_html('<a href="{}">{}</a>', url, person.lead)

    @admin.display(description="Alerts (newest 20)")
    def alert_list(self, person: CRSUser):
        alerts = person.alerts.order_by("-time")[:20]
        rows = [
            (
                reverse("admin:alerts_alert_change", args=[alert.pk]),
                f"{timezone.localtime(alert.time or alert.received_at):%Y-%m-%d %H:%M}",
                alert.get_type_display() or alert.type or "-",
                f" from {alert.alert_source}" if alert.alert_source else "",
                " (handled)" if alert.handled_at else "",
            )
            for alert in alerts
        ]
        if not rows:
            return "None"
        every = reverse("admin:alerts_alert_changelist") + f"?user__id__exact={person.pk}"
        return format_html(
            '<ul>{}</ul><a href="{}">Every alert of this person</a>',
            format_html_join("", '<li><a href="{}">{} {}</a>{}{}</li>', rows),
            every,
        )


LEAD_LABEL_FIELDS = [
    "name_of_business",
    "first_name",
    "last_name",
    "email",
    "status",
    "date_created",
]


def _suggested(person: CRSUser) -> list[dict]:
    found = services.lead_suggestions(person)
    groups = [
        {"text": "Same email address", "children": [_choice(lead) for lead in found.by_email]},
        {"text": "Same name", "children": [_choice(lead) for lead in found.by_name]},
    ]
    groups = [group for group in groups if group["children"]]
    if not groups:
        hint = "No lead has this person's email address or name: type to search."
        return [{"id": "", "text": hint, "disabled": True}]
    return groups


def _choice(lead: Lead) -> dict:
    name = f"{lead.first_name} {lead.last_name}".strip()
    parts = [str(lead), name if name != str(lead) else "", lead.email, lead.status]
    return {"id": str(lead.pk), "text": " · ".join(part for part in parts if part)}


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    """Managers write the rules' templates; the model's clean() refuses what would not render."""

    list_display = [
        "alert_type",
        "active",
        "notify_crs_user",
        "notify_assigned_officer",
        "addresses",
    ]
    list_filter = ["active"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in TEMPLATE_FIELDS:
            field.help_text = f"{field.help_text} The names: {', '.join(template_names())}."
        return field

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        again = services.render_again(obj) if change else 0
        if again:
            self.message_user(
                request,
                f"Notifications about {again} alert(s) that this rule failed to render "
                "are being made again from the rule as saved.",
            )


@admin.register(Notification)
class NotificationAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["id", "alert", "rule", "recipient", "status", "attempts", "sent_at", "error"]
    list_filter = ["status"]  # "Template error": what a rule failed to render, waiting for its fix
    list_select_related = ["alert", "rule"]
    search_fields = ["recipient"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
