"""The loan officers' workspace for CRF leads.

Every row here comes from CRF Connect, so the admin shows and never edits: the one write is
reprocessing deliveries, and it goes through `leads.services` like the commands do.
"""

import functools
import json
import uuid
from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import formats, timezone
from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator, capfirst, smart_split, unescape_string_literal
from django.utils.translation import ngettext

from alerts.models import Alert
from leadcrm.admin import EstimatedCountPaginator, PresenceFilter, ViewOnly, uuid_or_none

from . import crf, export, firewall, pull, services
from .choices import FRAUD_BANDS, STATUS_COLOURS, WITHHELD_FROM, DeliveryOutcome
from .models import (
    ANY_PROBLEMS, LEAD_SEARCH_FIELDS, ExportLog, Lead, LeadDelivery, LeadNote, LeadSearchText, Partner, Product,
    ProductSet, PulledBlob, PullRun, StatusChange,
)

EMPTY = "-"  # the admin's own empty-value display


# --- Display helpers -------------------------------------------------------------------------


@functools.cache
def as_sent(name: str):
    """A Lead enum or list field shown by its labels, and by the value as sent when CRF sent one
    we do not know.

    The admin's own display shows "-" for a value outside a field's choices, which would hide
    exactly the values CRF added after our lookups were written.
    """
    field = Lead._meta.get_field(name)

    @admin.display(description=capfirst(field.verbose_name), ordering=name)
    def show(lead: Lead) -> str:
        value = getattr(lead, name)
        if isinstance(value, list):
            labels = dict(crf.LIST_CHOICES[name].choices)
            return ", ".join(labels.get(item, item) for item in value) or EMPTY
        return getattr(lead, f"get_{name}_display")() or EMPTY

    show.__name__ = name  # keeps the page's CSS class: field-<name>
    return show


_AS_SENT = {field.name for field in Lead._meta.fields if field.choices} | set(crf.LIST_CHOICES)


def _fields(*names: str) -> list:
    return [as_sent(name) if name in _AS_SENT else name for name in names]



def _pre(text: str):
    return format_html("<pre>{}</pre>", text)  # escaped: CRF's bytes are untrusted


def _json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _problem_list(problems: list[dict]):
    """The {field, code, detail} problems leads.crf reports, one per line."""
    if not problems:
        return "None"
    rows = ((p.get("field"), p.get("detail"), p.get("code")) for p in problems)
    return format_html("<ul>{}</ul>", format_html_join("", "<li><b>{}</b>: {} ({})</li>", rows))


def _delivery_link(delivery_id: int | None):
    if delivery_id is None:
        return EMPTY
    url = reverse("admin:leads_leaddelivery_change", args=[delivery_id])
    return format_html('<a href="{}">#{}</a>', url, delivery_id)


def _lead_link(delivery: LeadDelivery):
    if delivery.lead_id is None:
        return EMPTY  # rejected: the body named no lead
    try:
        lead = delivery.lead  # None with select_related when the lead row is not there yet
    except Lead.DoesNotExist:
        lead = None
    if lead is None:
        return f"{delivery.lead_id} (not created yet)"
    url = reverse("admin:leads_lead_change", args=[delivery.lead_id])
    return format_html('<a href="{}">{}</a>', url, lead)


# --- Leads -----------------------------------------------------------------------------------


class FraudBandFilter(admin.SimpleListFilter):
    title = "fraud score"
    parameter_name = "fraud"
    BANDS = {key: (label, condition) for key, label, condition, _ in FRAUD_BANDS}

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value())
        return queryset.filter(band[1]) if band else queryset

    @staticmethod
    def band_of(score: Decimal) -> str:
        if score <= 0:
            return "zero"
        if score < Decimal("0.5"):
            return "low"
        return "high" if score < WITHHELD_FROM else "withheld"


class DataProblemsFilter(PresenceFilter):
    title = "data problems"
    parameter_name = "problems"
    present = ~Q(data_problems=[])
    labels = ("Has data problems", "No problems")

    def presence(self, request):
        # A problem about a sensitive field selects its lead only for who may see it
        # (lead_any_problems_idx; lead_problems_idx for everyone else).
        return ANY_PROBLEMS if firewall.may_see(request.user) else self.present


class BusinessStateFilter(admin.SimpleListFilter):
    """The states there are leads in. Django's own filter for a free-text field would run a
    DISTINCT over every lead on every page; this skips through lead_addr_state_created_idx
    instead, one index probe per state."""

    title = "business state"
    parameter_name = "address_state"
    STATES_SQL = f"""
        WITH RECURSIVE states(name) AS (
            SELECT MIN(address_state) FROM {Lead._meta.db_table} WHERE address_state > ''
            UNION ALL
            SELECT (SELECT MIN(address_state) FROM {Lead._meta.db_table} WHERE address_state > states.name)
            FROM states WHERE states.name IS NOT NULL
        )
        SELECT name FROM states WHERE name IS NOT NULL
    """

    def lookups(self, request, model_admin):
        with connection.cursor() as cursor:
            cursor.execute(self.STATES_SQL)
            return [(name, name) for (name,) in cursor.fetchall()]

    def queryset(self, request, queryset):
        return queryset.filter(address_state=self.value()) if self.value() else queryset


FRAUD_COLOURS = {key: colour for key, _, _, colour in FRAUD_BANDS}
# Lead page fields shown only with a permission.
PERMISSION_FIELDS = {
    **{as_sent(name): firewall.DEMOGRAPHICS_PERMISSION for name in firewall.SENSITIVE_FIELDS},
    "restricted_problems": firewall.DEMOGRAPHICS_PERMISSION,
    "restricted_extra_keys": firewall.DEMOGRAPHICS_PERMISSION,
    "delivery_log": "leads.view_leaddelivery",
    "applied_delivery_link": "leads.view_leaddelivery",
}
# The query-string lookups a list filter makes of a field (Django's choices, related, boolean
# and date filters): `status__exact`, `matched_product__id__exact`, `date_created__gte`, …
FILTER_LOOKUPS = ("exact", "isnull", "id__exact", "gte", "lt")


def _clipped(value):
    """A list cell of long text: the list's CSS shows at most two lines, the title all of it."""
    text = str(value or "").strip()
    if not text:
        return EMPTY
    return format_html('<span class="clipped" title="{}">{}</span>', text, text)


def _badge(text: str, colour: str, *, wrap: bool = False):
    return format_html(
        '<span style="color:#fff;background:{};padding:1px 6px;border-radius:8px{}">{}</span>',
        colour, "" if wrap else ";white-space:nowrap", text,
    )


class StatusHistoryInline(ViewOnly, admin.TabularInline):
    model = StatusChange
    verbose_name_plural = "status history"
    fields = ["changed_at", "from_status", "to_status", "delivery_link"]
    readonly_fields = fields  # an inline's formset is built from its fields even when view-only
    ordering = ["delivery_id"]  # receipt order: the order the history is built in

    def get_fields(self, request, obj=None):
        if request.user.has_perm("leads.view_leaddelivery"):
            return self.fields
        return [field for field in self.fields if field != "delivery_link"]  # a link they can't open

    @admin.display(description="Delivery")
    def delivery_link(self, change: StatusChange):
        return _delivery_link(change.delivery_id)  # the id alone: no query for the body


@admin.register(Lead)
class LeadAdmin(ViewOnly, admin.ModelAdmin):
    # Long texts come as `_clipped` cells: leads/static/leads/lead_list.css fits the columns
    # beside both sidebars on a 1400-px screen.
    list_display = [
        "business", "contact", "requested", "status_badge", "fraud", "product", "partner",
        "officer", "created",
    ]
    list_filter = [
        "status", "state", FraudBandFilter, "matched_product", "product_set", "lead_source",
        "service_partner", BusinessStateFilter, "industry", "fico_score", "use_of_proceeds",
        "years_in_business", "cra_eligible_tract", "is_cdfi_investment_area", DataProblemsFilter,
        ("date_created", admin.DateFieldListFilter),
    ]
    list_select_related = ["matched_product", "service_partner", "assigned_officer"]
    search_fields = LEAD_SEARCH_FIELDS  # shows the search box; get_search_results searches them
    search_help_text = (
        "Business, first or last name, email or phone; or an exact CRF lead, submission or duplicate id."
    )
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter value, over the whole table
    inlines = [StatusHistoryInline]
    actions = ["export_selected", "assign_to_me", "unassign"]
    change_list_template = "admin/leads/lead/change_list.html"
    change_form_template = "admin/leads/lead/change_form.html"

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        """Only what the list's own filters put in the query string. Django would take a lookup
        on any field (`?ownership_demographic_types__icontains=Veteran`, `?extra__regex=…`): the
        column may be hidden, but the rows it selects are the demographic."""
        filtered = {item[0] if isinstance(item, tuple | list) else item for item in self.list_filter}
        parameters = {item.parameter_name for item in filtered if isinstance(item, type)}
        field, _, lookup_type = lookup.partition("__")
        return lookup in parameters or (field in filtered and lookup_type in FILTER_LOOKUPS)

    def get_urls(self):
        own = [
            path("export/", self.admin_site.admin_view(self.export_list_view), name="leads_lead_export"),
            path("<uuid:lead_id>/note/", self.admin_site.admin_view(self.add_note_view), name="leads_lead_note"),
        ]
        return own + super().get_urls()

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("leads.export_lead")

    def has_assign_permission(self, request) -> bool:
        return request.user.has_perm("leads.assign_lead")

    @admin.action(description="Export selected leads to CSV", permissions=["export"])
    def export_selected(self, request, queryset):
        return _csv_response(request, queryset, ExportLog.Source.SELECTED)

    def export_list_view(self, request):
        """Exactly the list the officer sees: the same filters and search, every page."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return _csv_response(request, changelist.get_queryset(request), ExportLog.Source.LIST)

    @admin.action(description="Assign selected leads to me", permissions=["assign"])
    def assign_to_me(self, request, queryset):
        count = services.assign(queryset, request.user)
        self.message_user(request, ngettext("Assigned %d lead to you.", "Assigned %d leads to you.", count) % count)

    @admin.action(description="Unassign selected leads", permissions=["assign"])
    def unassign(self, request, queryset):
        count = services.assign(queryset, None)
        self.message_user(request, ngettext("Unassigned %d lead.", "Unassigned %d leads.", count) % count)

    def add_note_view(self, request, lead_id):
        lead = get_object_or_404(Lead, pk=lead_id)
        if request.method != "POST" or not request.user.has_perm("leads.add_leadnote"):
            raise PermissionDenied
        lead_page = reverse("admin:leads_lead_change", args=[lead.pk])
        try:
            services.add_note(lead, request.user, request.POST.get("text", ""))
        except ValueError as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return HttpResponseRedirect(lead_page)  # the top, where messages show
        return HttpResponseRedirect(lead_page + "#notes")

    def changelist_view(self, request, extra_context=None):
        extra = {"can_export": self.has_export_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        notes = LeadNote.objects.filter(lead_id=object_id).select_related("author")
        extra = {
            "notes": notes, "can_add_note": request.user.has_perm("leads.add_leadnote"),
            "duplicates": _possible_duplicates(object_id), **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra_context=extra)
    fieldsets = [
        (None, {"fields": _fields(
            "id", "status", "state", "date_created", "lead_owner", "delivery_log",
        )}),
        ("Applicant", {"fields": _fields(
            "first_name", "last_name", "email", "phone", "preferred_contact_method",
            "preferred_contact_time", "how_did_you_hear", "ownership_demographic_types",
        )}),
        ("Business", {"fields": _fields(
            "name_of_business", "business_type", "industry", "years_in_business",
            "num_employees", "revenue_last_year", "revenue_projected", "net_profit",
        )}),
        ("Request", {"fields": _fields(
            "requested_amount", "use_of_proceeds", "finance_needed_by", "has_business_plan",
            "collateral_types", "disqualified_reason", "withdrawn_reason", "other_reason_text",
        )}),
        ("Credit", {"fields": _fields(
            "fico_score", "prior_bankruptcies", "fraud_score", "ip_address",
        )}),
        ("Location", {"fields": _fields(
            "address_line1", "address_line2", "address_city", "address_state", "address_zip",
            "address_county", "census_tract", "latitude", "longitude", "cra_eligible_tract",
            "is_cdfi_investment_area",
        )}),
        ("Funding", {"fields": _fields(
            "funded_amount", "funded_interest_rate", "funded_apr", "funded_term_months",
            "funded_amortization_months", "funded_date", "will_receive_technical_assistance",
            "technical_assistance_options",
        )}),
        ("Matched product & partners", {"fields": _fields(
            "matched_product", "product_set", "lead_source", "service_partner",
        )}),
        ("Credit alerts (CRS)", {"fields": ["credit_alerts"]}),
        ("Data problems", {"fields": ["problems", "restricted_problems"]}),
        ("Extra keys CRF sent", {"fields": ["extra_keys", "restricted_extra_keys"]}),
        ("Record", {"classes": ["collapse"], "fields": _fields(
            "submission_id", "duplicate_id", "first_seen_at", "updated_at", "applied_delivery_link",
        )}),
    ]

    def get_search_results(self, request, queryset, search_term):
        # Ids go to their indexes; "=id" in search_fields would compare them as text.
        term = search_term.strip()
        found = uuid_or_none(term)
        if found:
            return queryset.filter(Q(pk=found) | Q(submission_id=found)), False
        exact = queryset.filter(Q(duplicate_id=term) | Q(email__iexact=term) | Q(phone=term))
        if term and exact.exists():  # a whole id, address or number: its own index, not trigrams
            return exact, False
        # Django's own search, each word on the one search text instead of five fields.
        words = [
            unescape_string_literal(bit) if bit.startswith(('"', "'")) and bit[0] == bit[-1] else bit
            for bit in smart_split(term)
        ]
        searched = queryset.alias(search_text=LeadSearchText())
        return searched.filter(*[Q(search_text__icontains=word) for word in words]), False

    def get_fieldsets(self, request, obj=None):
        # The fair-lending firewall keeps demographics away from who decides on credit; links
        # to raw deliveries are shown only to who may open them.
        hidden = {field for field, permission in PERMISSION_FIELDS.items() if not request.user.has_perm(permission)}
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in self.fieldsets
        ]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, lead: Lead):
        label = lead.get_status_display() or EMPTY
        return _badge(label, STATUS_COLOURS.get(lead.status, "#6b7280"))

    @admin.display(description="Business", ordering="name_of_business")
    def business(self, lead: Lead):
        # The column links to the lead.
        return _clipped(lead.name_of_business or "(no business name)")

    @admin.display(description="Contact", ordering="last_name")
    def contact(self, lead: Lead):
        return _clipped(f"{lead.first_name} {lead.last_name}".strip())

    @admin.display(description="Matched product", ordering="matched_product")
    def product(self, lead: Lead):
        return _clipped(lead.matched_product)

    @admin.display(description="Service partner", ordering="service_partner")
    def partner(self, lead: Lead):
        return _clipped(lead.service_partner)

    @admin.display(description="Assigned officer", ordering="assigned_officer")
    def officer(self, lead: Lead):
        return _clipped(lead.assigned_officer)

    @admin.display(description="Date created", ordering="date_created")
    def created(self, lead: Lead):
        if lead.date_created is None:
            return EMPTY
        when = timezone.template_localtime(lead.date_created)
        # The date and the time each stay whole; the cell breaks between them when narrow.
        return format_html(
            '<time datetime="{}"><span>{}</span> <span>{}</span></time>', when.isoformat(),
            formats.date_format(when, "DATE_FORMAT"), formats.time_format(when, "TIME_FORMAT"),
        )

    @admin.display(description="Requested", ordering="requested_amount")
    def requested(self, lead: Lead) -> str:
        return EMPTY if lead.requested_amount is None else f"${lead.requested_amount:,.2f}"

    @admin.display(description="Fraud score", ordering="fraud_score")
    def fraud(self, lead: Lead) -> str:
        if lead.fraud_score is None:
            return EMPTY
        withheld = " (withheld)" if lead.fraud_score >= WITHHELD_FROM else ""
        band = FraudBandFilter.band_of(lead.fraud_score)
        # "0.93 (withheld)" may take two lines in the list (leads/static/leads/lead_list.css).
        return _badge(f"{lead.fraud_score.normalize():f}{withheld}", FRAUD_COLOURS[band], wrap=True)

    @admin.display(description="Deliveries")
    def delivery_log(self, lead: Lead):
        url = reverse("admin:leads_leaddelivery_changelist")
        return format_html('<a href="{}?q={}">Every delivery of this lead</a>', url, lead.pk)

    @admin.display(description="Alerts of the CRS users linked to this lead (newest 20)")
    def credit_alerts(self, lead: Lead):
        alerts = Alert.objects.filter(user__lead=lead).select_related("user").order_by("-time")[:20]
        rows = [
            (f"{alert.time or alert.received_at:%Y-%m-%d %H:%M}", alert.get_type_display() or alert.type or "-",
             f" from {alert.alert_source}" if alert.alert_source else "", alert.user)
            for alert in alerts
        ]
        if not rows:
            return "None"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} {}{} — {}</li>", rows))

    @admin.display(description="Problems in the newest delivery")
    def problems(self, lead: Lead):
        return _problem_list(lead.data_problems)

    @admin.display(description="Keys the schema does not name, as sent")
    def extra_keys(self, lead: Lead):
        return _pre(_json(lead.extra)) if lead.extra else "None"

    @admin.display(description="Problems about ownership demographics")
    def restricted_problems(self, lead: Lead):
        return _problem_list(lead.restricted.get(firewall.RESTRICTED_PROBLEMS, []))

    @admin.display(description="Unknown keys that carry ownership demographics, as sent")
    def restricted_extra_keys(self, lead: Lead):
        extra = lead.restricted.get(firewall.RESTRICTED_EXTRA)
        return _pre(_json(extra)) if extra else "None"

    @admin.display(description="Newest delivery applied")
    def applied_delivery_link(self, lead: Lead):
        return _delivery_link(lead.applied_delivery_id)


def _csv_response(request, leads, source: str) -> StreamingHttpResponse:
    lines = export.audited_lines(leads, user=request.user, source=source, filters=request.GET.dict())
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    return response


def _possible_duplicates(lead_id) -> list[Lead]:
    """Other leads CRF gave the same duplicateId (lead_duplicate_idx)."""
    duplicate_id = Lead.objects.filter(pk=lead_id).values_list("duplicate_id", flat=True).first()
    if not duplicate_id:
        return []
    return list(Lead.objects.filter(duplicate_id=duplicate_id).exclude(pk=lead_id).order_by("-date_created")[:20])


@admin.register(ExportLog)
class ExportLogAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["started_at", "user", "source", "rows", "with_demographics", "filters", "finished_at"]
    list_filter = ["source", "with_demographics"]
    list_select_related = ["user"]


# --- Deliveries ------------------------------------------------------------------------------


@admin.register(LeadDelivery)
class LeadDeliveryAdmin(ViewOnly, admin.ModelAdmin):
    list_display = [
        "id", "received_at", "lead_link", "source", "status", "outcome", "attempts", "short_error",
    ]
    list_filter = ["outcome", "source"]
    list_select_related = ["lead"]
    search_fields = ["=lead_id"]  # shows the search box; get_search_results does the lookup
    search_help_text = "An exact lead id."
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter value, over the whole table
    actions = ["reprocess"]
    fields = [
        "received_at", "lead_link", "source", "status", "outcome", "attempts", "processed_at",
        "next_attempt_at", "body_sha256", "raw_body", "headers_sent", "warnings_found",
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
        lead_id = uuid_or_none(search_term)
        return (queryset.filter(lead_id=lead_id) if lead_id else queryset.none()), False

    @admin.action(description="Reprocess selected deliveries", permissions=["reprocess"])
    def reprocess(self, request, queryset):
        rejected = queryset.filter(outcome=DeliveryOutcome.REJECTED).count()
        lead_ids = services.mark_for_reprocessing(queryset)
        services.queue_leads(lead_ids)
        level = messages.SUCCESS if lead_ids else messages.WARNING
        self.message_user(request, _reprocess_message(len(lead_ids), rejected), level)

    def has_reprocess_permission(self, request) -> bool:
        # A write, so it asks for the change permission this view-only admin otherwise ignores.
        return request.user.has_perm("leads.change_leaddelivery")

    @admin.display(description="Lead", ordering="lead_id")
    def lead_link(self, delivery: LeadDelivery):
        return _lead_link(delivery)

    @admin.display(description="Error")
    def short_error(self, delivery: LeadDelivery) -> str:
        return Truncator(delivery.error).chars(80)

    @admin.display(description="Body (pretty-printed when it is JSON)")
    def raw_body(self, delivery: LeadDelivery):
        return _pre(delivery.pretty_body())

    @admin.display(description="Headers")
    def headers_sent(self, delivery: LeadDelivery):
        return _pre(_json(delivery.headers))

    @admin.display(description="Warnings")
    def warnings_found(self, delivery: LeadDelivery):
        return _problem_list(delivery.warnings)

    @admin.display(description="Error")
    def error_text(self, delivery: LeadDelivery):
        return _pre(delivery.error) if delivery.error else "None"


def _reprocess_message(queued: int, rejected: int) -> str:
    message = ngettext(
        "Queued %(n)d lead for processing.", "Queued %(n)d leads for processing.", queued
    ) % {"n": queued}
    if rejected:
        message += " " + ngettext(
            "Skipped %(n)d rejected delivery: its body is not a lead.",
            "Skipped %(n)d rejected deliveries: their bodies are not leads.",
            rejected,
        ) % {"n": rejected}
    return message


# --- Partners and products -------------------------------------------------------------------


@admin.register(Partner)
class PartnerAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["name", "route", "crf_id"]
    search_fields = ["name"]
    readonly_fields = ["crf_id"]


@admin.register(Product)
class ProductAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["name", "kind", "loan_type", "collateral_type", "payment_frequency", "crf_id"]
    search_fields = ["name"]
    readonly_fields = ["crf_id"]


@admin.register(ProductSet)
class ProductSetAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["name", "crf_id"]
    search_fields = ["name"]
    readonly_fields = ["crf_id"]


# --- Pulling from Azure Storage (leads.pull) -------------------------------------------------


@admin.register(PullRun)
class PullRunAdmin(ViewOnly, admin.ModelAdmin):
    """The last pulls, and above them each source's state: SAS expiry, what is pending."""

    list_display = [
        "started_at", "source", "target", "took", "taken", "duplicates", "rejected", "failed",
        "pending", "short_error",
    ]
    list_filter = ["source"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "pull_sources": pull.sources_status(),
            "pull_warnings": pull.health_warnings(),
            "deliveries_url": reverse("admin:leads_leaddelivery_changelist"),
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="Took")
    def took(self, run: PullRun) -> str:
        if run.finished_at is None:
            return "did not finish"
        return f"{(run.finished_at - run.started_at).total_seconds():.1f} s"

    @admin.display(description="Error")
    def short_error(self, run: PullRun) -> str:
        return Truncator(run.error).chars(100)


@admin.register(PulledBlob)
class PulledBlobAdmin(ViewOnly, admin.ModelAdmin):
    """The blob ledger: each blob version taken, so that none is taken twice."""

    list_display = ["name", "container", "etag", "leads", "taken_at", "deleted_at"]
    search_fields = ["=name"]
    show_full_result_count = False
