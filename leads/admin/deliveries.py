"""Raw lead deliveries: what CRF sent, as it came, and reprocessing (managers)."""

from django.contrib import admin, messages
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from leadcrm.admin import FIT_LIST_CSS, EstimatedCountPaginator, ViewOnly, uuid_or_none, when
from leads import firewall
from leads.intake import services
from leads.models import Lead, LeadDelivery

from .display import as_json, clipped, lead_link, pre, problem_list


@admin.register(LeadDelivery)
class LeadDeliveryAdmin(ViewOnly, admin.ModelAdmin):
    # Long texts come as `clipped` cells, dates as `when`: leadcrm/static/leadcrm/fit_list.css
    # fits the columns beside both sidebars on a 1400-px screen.
    list_display = [
        "id",
        "received",
        "lead_cell",
        "source",
        "status",
        "outcome",
        "attempts",
        "short_error",
    ]
    list_filter = ["outcome", "source"]
    list_select_related = ["lead"]
    # Shows the search box; get_search_results does the lookup.
    search_fields = ["=lead_id", "=queue_message_id"]
    search_help_text = "An exact lead id or Azure queue message id."
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter value, over the whole table
    actions = ["reprocess"]

    class Media:
        css = FIT_LIST_CSS

    fields = [
        "received_at",
        "lead_link",
        "source",
        "queue_message_id",
        "status",
        "outcome",
        "attempts",
        "processed_at",
        "next_attempt_at",
        "body_sha256",
        "raw_body",
        "headers_sent",
        "warnings_found",
        "error_text",
    ]

    def has_view_permission(self, request, obj=None) -> bool:
        # A raw body holds every field CRF sent, ownership demographics included.
        return super().has_view_permission(request, obj) and firewall.may_see(request.user)

    def get_queryset(self, request):
        # Bodies can be large and the list never shows them; the detail page loads its one.
        return super().get_queryset(request).defer("body", "headers")

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        # Azure names a queue message by a GUID too, so a UUID may be either: both exact, each on
        # its index; the message id as typed or in the usual form (lower case, hyphens).
        term = uuid_or_none(search_term)
        if term is None:
            return queryset.none(), False
        message_ids = {search_term.strip(), str(term)}
        return queryset.filter(Q(lead_id=term) | Q(queue_message_id__in=message_ids)), False

    @admin.action(description="Reprocess selected deliveries", permissions=["reprocess"])
    def reprocess(self, request, queryset):
        done = services.reprocess(queryset, now=False)  # the workers process them
        level = messages.SUCCESS if done.leads else messages.WARNING
        self.message_user(request, _reprocess_message(done), level)

    def has_reprocess_permission(self, request) -> bool:
        # A write, so it asks for the change permission this view-only admin otherwise ignores.
        return request.user.has_perm("leads.change_leaddelivery")

    @admin.display(description="Received", ordering="received_at")
    def received(self, delivery: LeadDelivery):
        return when(delivery.received_at)

    @admin.display(description="Lead", ordering="lead_id")
    def lead_link(self, delivery: LeadDelivery):
        return lead_link(delivery)

    @admin.display(description="Lead", ordering="lead_id")
    def lead_cell(self, delivery: LeadDelivery):
        """The list's lead: lead_link, cut to two lines."""
        if delivery.lead_id is None:
            return "-"  # rejected: the body named no lead
        try:
            lead = delivery.lead  # None with select_related when the lead row is not there yet
        except Lead.DoesNotExist:
            lead = None
        if lead is None:
            return clipped(f"{delivery.lead_id} (not created yet)")
        url = reverse("admin:leads_lead_change", args=[delivery.lead_id])
        return format_html('<a href="{}">{}</a>', url, clipped(lead))

    @admin.display(description="Error")
    def short_error(self, delivery: LeadDelivery):
        return clipped(delivery.error)

    @admin.display(description="Body (pretty-printed when it is JSON)")
    def raw_body(self, delivery: LeadDelivery):
        return pre(delivery.pretty_body())

    @admin.display(description="Headers")
    def headers_sent(self, delivery: LeadDelivery):
        return pre(as_json(delivery.headers))

    @admin.display(description="Warnings")
    def warnings_found(self, delivery: LeadDelivery):
        return problem_list(delivery.warnings)

    @admin.display(description="Error")
    def error_text(self, delivery: LeadDelivery):
        return pre(delivery.error) if delivery.error else "None"


def _reprocess_message(done: services.Reprocessed) -> str:
    message = ngettext(
        "Queued %(n)d lead for processing.", "Queued %(n)d leads for processing.", done.leads
    ) % {"n": done.leads}
    if done.rejected:
        message += " " + ngettext(
            "Skipped %(n)d rejected delivery: its body is not a lead.",
            "Skipped %(n)d rejected deliveries: their bodies are not leads.",
            done.rejected,
        ) % {"n": done.rejected}
    return message
