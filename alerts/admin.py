"""CRS alerts in the workspace: read-only alerts and batches, editable people and rules."""

from django.contrib import admin
from django.db.models import Q
from django.utils.html import format_html

from leadcrm.admin import (
    EstimatedCountPaginator,
    PresenceFilter,
    ViewOnly,
    problem_list,
    uuid_or_none,
)

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


@admin.register(Alert)
class AlertAdmin(ViewOnly, admin.ModelAdmin):
    list_display = [
        "time",
        "type_label",
        "user",
        "lead",
        "alert_date",
        "alert_source",
        "host_id",
        "error_code",
    ]
    list_filter = [
        TypeFilter,
        ("time", admin.DateFieldListFilter),
        "alert_source",
        "host_id",
        HasErrorFilter,
    ]
    list_select_related = ["user__lead"]
    search_fields = ["user__name", "user__email"]
    search_help_text = "CRS user name or email, or an exact user id, alert id or hook id."
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    exclude = ["problems"]  # shown as a list by listed_problems
    readonly_fields = ["alert_date_sent", "extra", "listed_problems"]

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

    @admin.display(description="Type", ordering="type")
    def type_label(self, alert: Alert) -> str:
        return alert.get_type_display() or "-"

    @admin.display(description="Lead")
    def lead(self, alert: Alert):
        return alert.user.lead if alert.user and alert.user.lead_id else "-"

    @admin.display(description="Problems")
    def listed_problems(self, alert: Alert):
        return problem_list(alert.problems)


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


@admin.register(CRSUser)
class CRSUserAdmin(admin.ModelAdmin):
    """Staff tie a credit-monitored person to the lead they are."""

    list_display = ["id", "name", "email", "lead"]
    search_fields = ["name", "email"]
    raw_id_fields = ["lead"]
    fields = ["id", "name", "email", "lead", "first_seen_at"]
    readonly_fields = ["id", "first_seen_at"]

    def has_add_permission(self, request) -> bool:
        return False  # people arrive with their alerts

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_search_results(self, request, queryset, search_term):
        found = uuid_or_none(search_term)
        if found:
            return queryset.filter(pk=found), False
        return super().get_search_results(request, queryset, search_term)


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
