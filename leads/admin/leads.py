"""The loan officers' workspace for CRF leads: the lead list, its filters, and a lead's page.

Every row here comes from CRF Connect, so the admin shows and never edits: staff own the
assigned officer and the notes, written through `leads.workspace`, and the dispositions they
record, which `leads.dispositions` writes back to CRF.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import smart_split, unescape_string_literal
from django.utils.timesince import timesince

from leadcrm.admin import EstimatedCountPaginator, PresenceFilter, ViewOnly, uuid_or_none
from leads import export, firewall, workspace
from leads.choices import FRAUD_BANDS, WITHHELD_FROM, ActivityKind, WriteBack, fraud_band
from leads.dispositions import crf_api
from leads.dispositions import services as dispositions
from leads.dispositions.forms import FUNDING_TERMS, REASONS, DispositionForm
from leads.models import (
    ANY_PROBLEMS,
    LEAD_SEARCH_FIELDS,
    ExportLog,
    Lead,
    LeadSearchText,
)
from leads.ownership import services as ownership_services
from leads.ownership.forms import ActivityForm

from . import ownership, timeline
from .display import (
    EMPTY,
    as_json,
    as_sent,
    badge,
    clipped,
    delivery_link,
    fields_as_sent,
    money,
    pre,
    problem_list,
    two_truths,
    when,
    write_back,
)
from .ownership import FirstContactFilter, FollowUpFilter, OfficerFilter


class FraudBandFilter(admin.SimpleListFilter):
    title = "fraud score"
    parameter_name = "fraud"
    BANDS = {band.key: band for band in FRAUD_BANDS}

    def lookups(self, request, model_admin):
        return [(band.key, band.label) for band in FRAUD_BANDS]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value())
        return queryset.filter(band.condition) if band else queryset


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
            SELECT (
                SELECT MIN(address_state) FROM {Lead._meta.db_table}
                WHERE address_state > states.name
            )
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
# What a lead's page reads besides the lead: joined into the one query that fetches it.
PAGE_RELATED = [
    "matched_product",
    "product_set",
    "lead_source",
    "service_partner",
    "assigned_officer",
    "disposition",
]
# The disposition form's fields that go with one status only (the others go with any):
# leads/static/leads/disposition_form.js shows them when that status is chosen.
FIELD_STATUSES = {
    **{name: "Funded" for name in FUNDING_TERMS},
    **{name: status for status, name in REASONS.items()},
}


@admin.register(Lead)
class LeadAdmin(ViewOnly, admin.ModelAdmin):
    # Long texts come as `_clipped` cells: leads/static/leads/lead_list.css fits the columns
    # beside both sidebars on a 1400-px screen.
    list_display = [
        "business",
        "contact",
        "requested",
        "status_badge",
        "fraud",
        "product",
        "partner",
        "officer",
        "created",
    ]
    list_filter = [
        OfficerFilter,
        FirstContactFilter,
        FollowUpFilter,
        "status",
        "state",
        FraudBandFilter,
        "matched_product",
        "product_set",
        "lead_source",
        "service_partner",
        BusinessStateFilter,
        "industry",
        "fico_score",
        "use_of_proceeds",
        "years_in_business",
        "cra_eligible_tract",
        "is_cdfi_investment_area",
        DataProblemsFilter,
        ("date_created", admin.DateFieldListFilter),
    ]
    # The status column reads the lead's newest disposition: joined, not a query per row.
    list_select_related = ["matched_product", "service_partner", "assigned_officer", "disposition"]
    search_fields = LEAD_SEARCH_FIELDS  # shows the search box; get_search_results searches them
    search_help_text = (
        "Business, first or last name, email or phone; "
        "or an exact CRF lead, submission or duplicate id."
    )
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter value, over the whole table
    actions = ["export_selected", "take_selected", "give_selected", "release_selected"]
    change_list_template = "admin/leads/lead/change_list.html"
    change_form_template = "admin/leads/lead/change_form.html"

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        """Only what the list's own filters put in the query string. Django would take a lookup
        on any field (`?ownership_demographic_types__icontains=Veteran`, `?extra__regex=…`): the
        column may be hidden, but the rows it selects are the demographic."""
        filtered = {
            item[0] if isinstance(item, tuple | list) else item for item in self.list_filter
        }
        parameters = {item.parameter_name for item in filtered if isinstance(item, type)}
        field, _, lookup_type = lookup.partition("__")
        return lookup in parameters or (field in filtered and lookup_type in FILTER_LOOKUPS)

    def get_urls(self):
        own = [
            path(
                "export/",
                self.admin_site.admin_view(self.export_list_view),
                name="leads_lead_export",
            ),
            path(
                "<uuid:lead_id>/note/",
                self.admin_site.admin_view(self.add_note_view),
                name="leads_lead_note",
            ),
            path(
                "<uuid:lead_id>/assign/",
                self.admin_site.admin_view(self.assign_view),
                name="leads_lead_assign",
            ),
            path(
                "<uuid:lead_id>/activity/",
                self.admin_site.admin_view(self.activity_view),
                name="leads_lead_activity",
            ),
            path(
                "<uuid:lead_id>/disposition/",
                self.admin_site.admin_view(self.disposition_view),
                name="leads_lead_disposition",
            ),
        ]
        return own + super().get_urls()

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm("leads.export_lead")

    def has_assign_permission(self, request) -> bool:
        return request.user.has_perm("leads.assign_lead")

    def has_disposition_permission(self, request) -> bool:
        return request.user.has_perm("leads.add_disposition")

    @admin.action(description="Export selected leads to CSV", permissions=["export"])
    def export_selected(self, request, queryset):
        return _csv_response(request, queryset, ExportLog.Source.SELECTED)

    def export_list_view(self, request):
        """Exactly the list the officer sees: the same filters and search, every page."""
        if not self.has_export_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return _csv_response(request, changelist.get_queryset(request), ExportLog.Source.LIST)

    def has_reassign_permission(self, request) -> bool:
        return request.user.has_perm("leads.reassign_lead")

    take_selected = ownership.take_selected
    release_selected = ownership.release_selected
    give_selected = ownership.give_selected

    def add_note_view(self, request, lead_id):
        lead = get_object_or_404(Lead, pk=lead_id)
        if request.method != "POST" or not request.user.has_perm("leads.add_leadnote"):
            raise PermissionDenied
        lead_page = reverse("admin:leads_lead_change", args=[lead.pk])
        try:
            workspace.add_note(lead, request.user, request.POST.get("text", ""))
        except ValueError as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return HttpResponseRedirect(lead_page)  # the top, where messages show
        return HttpResponseRedirect(lead_page + "#timeline")

    def assign_view(self, request, lead_id):
        """Take the lead, release it, or (managers) give it to an officer."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_assign_permission(request):
            raise PermissionDenied
        lead = get_object_or_404(Lead, pk=lead_id)
        leads = Lead.objects.filter(pk=lead.pk)
        choice = request.POST.get("officer", "")
        try:
            if choice == "me":
                changed = ownership_services.take(leads, request.user)
            elif choice == "none":
                changed = ownership_services.release(leads, request.user)
            else:
                officer = ownership_services.officers().filter(pk=_int(choice)).first()
                if officer is None:
                    raise ownership_services.NotAllowed("Choose an active officer.")
                changed = ownership_services.give(leads, officer, request.user)
        except ownership_services.NotAllowed as exc:
            self.message_user(request, str(exc), messages.WARNING)
            changed = None
        if changed == 0:
            self.message_user(
                request,
                "Nothing changed: the lead is someone else's (a lending manager can reassign it)"
                " or already so.",
                messages.WARNING,
            )
        elif changed:
            lead.refresh_from_db()
            self.message_user(request, f"Assigned officer: {lead.assigned_officer or 'nobody'}.")
        return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))

    def activity_view(self, request, lead_id):
        """Log a call, email or meeting, with its outcome and the next action."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("leads.add_activity"):
            raise PermissionDenied
        lead = get_object_or_404(Lead, pk=lead_id)
        form = ActivityForm(request.POST)
        if not form.is_valid():
            request.method = "GET"
            return self.change_view(request, str(lead.pk), extra_context={"activity_form": form})
        ownership_services.log_activity(lead, request.user, **form.cleaned_data)
        self.message_user(request, f"Logged: {form.summary()}.")
        return HttpResponseRedirect(
            reverse("admin:leads_lead_change", args=[lead.pk]) + "#timeline"
        )

    def disposition_view(self, request, lead_id):
        """Work this lead: record the status staff set, and queue its write-back to CRF."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_disposition_permission(request):
            raise PermissionDenied
        lead = get_object_or_404(Lead, pk=lead_id)
        form = DispositionForm(request.POST)
        if not form.is_valid():
            # The lead's page again, with the form as typed and its errors. The change view
            # reads a POST as a save of the change form (refused: leads are read-only).
            request.method = "GET"
            return self.change_view(request, str(lead.pk), extra_context={"work_form": form})
        disposition = dispositions.record(lead, form.body(lead.pk), request.user)
        # Without a broker the write-back ran right after the commit (with one it is waiting
        # for a worker): say where it is.
        disposition.refresh_from_db()
        failed = disposition.state == WriteBack.FAILED
        self.message_user(
            request,
            f"Recorded {disposition.status} — {write_back(disposition)}.",
            messages.WARNING if failed else messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:leads_lead_change", args=[lead.pk]))

    def changelist_view(self, request, extra_context=None):
        extra = {"can_export": self.has_export_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def get_object(self, request, object_id, from_field=None):
        lead_id = uuid_or_none(str(object_id))
        if lead_id is None:
            return None
        queryset = self.get_queryset(request).select_related(*PAGE_RELATED)
        return queryset.filter(pk=lead_id).first()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Django's change form posts to form_url, else to the address shown: after a refused
        # disposition that is the disposition's.
        form_url = form_url or reverse("admin:leads_lead_change", args=[object_id])
        return super().change_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(
                self._work_context(
                    request, obj, context.get("work_form"), context.get("activity_form")
                )
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _work_context(
        self,
        request,
        lead: Lead,
        form: DispositionForm | None,
        activity_form: ActivityForm | None = None,
    ) -> dict:
        """The page's summary, its actions and its timeline, above CRF's fields."""
        can_work = self.has_disposition_permission(request)
        form = form or DispositionForm()
        return {
            "summary": _summary(lead),
            "timeline": timeline.for_lead(lead, request.user),
            "can_add_note": request.user.has_perm("leads.add_leadnote"),
            "work_form": form if can_work else None,
            "work_rows": [(form[name], FIELD_STATUSES.get(name, "")) for name in form.fields],
            "activity_form": _activity_form(request, activity_form),
            "assign": _assign_choices(request, lead),
            "crf_configured": crf_api.configured(),
            "duplicates": _possible_duplicates(lead),
        }

    # CRF's fields, below the summary and the timeline: each group folded until opened.
    fieldsets = [
        (
            "At CRF",
            {
                "classes": ["collapse"],
                "fields": fields_as_sent(
                    "id",
                    "status",
                    "state",
                    "date_created",
                    "lead_owner",
                    "delivery_log",
                ),
            },
        ),
        (
            "Applicant",
            {
                "classes": ["collapse"],
                "fields": fields_as_sent(
                    "first_name",
                    "last_name",
                    "email",
                    "phone",
                    "preferred_contact_method",
                    "preferred_contact_time",
                    "how_did_you_hear",
                    "ownership_demographic_types",
                ),
            },
        ),
        (
            "Business",
            {
                "classes": ["collapse"],
                "fields": fields_as_sent(
                    "name_of_business",
                    "business_type",
                    "industry",
                    "years_in_business",
                    "num_employees",
                    "revenue_last_year",
                    "revenue_projected",
                    "net_profit",
                ),
            },
        ),
        (
            "Request",
            {
                "classes": ["collapse"],
                "fields": fields_as_sent(
                    "requested_amount",
                    "use_of_proceeds",
                    "finance_needed_by",
                    "has_business_plan",
                    "collateral_types",
                    "disqualified_reason",
                    "withdrawn_reason",
                    "other_reason_text",
                ),
            },
        ),
        (
            "Credit",
            {
                "classes": ["collapse"],
                "fields": fields_as_sent(
                    "fico_score",
                    "prior_bankruptcies",
                    "fraud_score",
                    "ip_address",
                ),
            },
        ),
        (
            "Location",
            {
                "classes": ["collapse"],
                "fields": fields_as_sent(
                    "address_line1",
                    "address_line2",
                    "address_city",
                    "address_state",
                    "address_zip",
                    "address_county",
                    "census_tract",
                    "latitude",
                    "longitude",
                    "cra_eligible_tract",
                    "is_cdfi_investment_area",
                ),
            },
        ),
        (
            "Funding (as CRF has it)",
            {
                "classes": ["collapse"],
                "fields": fields_as_sent(
                    "funded_amount",
                    "funded_interest_rate",
                    "funded_apr",
                    "funded_term_months",
                    "funded_amortization_months",
                    "funded_date",
                    "will_receive_technical_assistance",
                    "technical_assistance_options",
                ),
            },
        ),
        (
            "Matched product & partners",
            {
                "classes": ["collapse"],
                "fields": fields_as_sent(
                    "matched_product",
                    "product_set",
                    "lead_source",
                    "service_partner",
                ),
            },
        ),
        (
            "Data problems",
            {"classes": ["collapse"], "fields": ["problems", "restricted_problems"]},
        ),
        (
            "Extra keys CRF sent",
            {"classes": ["collapse"], "fields": ["extra_keys", "restricted_extra_keys"]},
        ),
        (
            "Record",
            {
                "classes": ["collapse"],
                "fields": fields_as_sent(
                    "submission_id",
                    "duplicate_id",
                    "first_seen_at",
                    "updated_at",
                    "applied_delivery_link",
                ),
            },
        ),
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
            unescape_string_literal(bit)
            if bit.startswith(('"', "'")) and bit[0] == bit[-1]
            else bit
            for bit in smart_split(term)
        ]
        searched = queryset.alias(search_text=LeadSearchText())
        return searched.filter(*[Q(search_text__icontains=word) for word in words]), False

    def get_fieldsets(self, request, obj=None):
        # The fair-lending firewall keeps demographics away from who decides on credit; links
        # to raw deliveries are shown only to who may open them.
        hidden = {
            field
            for field, permission in PERMISSION_FIELDS.items()
            if not request.user.has_perm(permission)
        }
        problems = obj is not None and bool(
            obj.data_problems
            or (firewall.may_see(request.user) and obj.restricted.get(firewall.RESTRICTED_PROBLEMS))
        )
        return [
            (
                name,
                {
                    **options,
                    "fields": [f for f in options["fields"] if f not in hidden],
                    # Problems, when there are any, are open: they say what to doubt.
                    **({"classes": []} if problems and name == "Data problems" else {}),
                },
            )
            for name, options in self.fieldsets
        ]

    @admin.display(description="Status (CRF · ours)", ordering="status")
    def status_badge(self, lead: Lead):
        return two_truths(lead, cell=True)

    @admin.display(description="Business", ordering="name_of_business")
    def business(self, lead: Lead):
        # The column links to the lead.
        return clipped(lead.name_of_business or "(no business name)")

    @admin.display(description="Contact", ordering="last_name")
    def contact(self, lead: Lead):
        return clipped(f"{lead.first_name} {lead.last_name}".strip())

    @admin.display(description="Matched product", ordering="matched_product")
    def product(self, lead: Lead):
        return clipped(lead.matched_product)

    @admin.display(description="Service partner", ordering="service_partner")
    def partner(self, lead: Lead):
        return clipped(lead.service_partner)

    @admin.display(description="Assigned officer", ordering="assigned_officer")
    def officer(self, lead: Lead):
        if lead.next_action_at is None:
            return clipped(lead.assigned_officer)
        due = timezone.template_localtime(lead.next_action_at)
        late = lead.next_action_at < timezone.now()
        return format_html(
            '{}<span class="next-action{}">next: {}</span>',
            clipped(lead.assigned_officer),
            " overdue" if late else "",
            formats.date_format(due, "SHORT_DATETIME_FORMAT"),
        )

    @admin.display(description="Date created", ordering="date_created")
    def created(self, lead: Lead):
        if lead.date_created is None:
            return EMPTY
        when = timezone.template_localtime(lead.date_created)
        # The date and the time each stay whole; the cell breaks between them when narrow.
        created = format_html(
            '<time datetime="{}"><span>{}</span> <span>{}</span></time>',
            when.isoformat(),
            formats.date_format(when, "DATE_FORMAT"),
            formats.time_format(when, "TIME_FORMAT"),
        )
        if not lead.is_open or lead.first_contact_at is not None:
            return created
        # Speed to lead: an open lead nobody has contacted yet, and how long it has waited.
        mark = "overdue" if lead.is_overdue else "untouched"
        return format_html(
            '{}<span class="age {}">{} · {}</span>',
            created,
            mark,
            timesince(lead.date_created).split(",")[0],
            mark,
        )

    @admin.display(description="Requested", ordering="requested_amount")
    def requested(self, lead: Lead) -> str:
        return money(lead.requested_amount)

    @admin.display(description="Fraud score", ordering="fraud_score")
    def fraud(self, lead: Lead) -> str:
        # "0.93 (withheld)" may take two lines in the list (leads/static/leads/lead_list.css).
        return _fraud_badge(lead)

    @admin.display(description="Deliveries")
    def delivery_log(self, lead: Lead):
        url = reverse("admin:leads_leaddelivery_changelist")
        return format_html('<a href="{}?q={}">Every delivery of this lead</a>', url, lead.pk)

    @admin.display(description="Problems in the newest delivery")
    def problems(self, lead: Lead):
        return problem_list(lead.data_problems)

    @admin.display(description="Keys the schema does not name, as sent")
    def extra_keys(self, lead: Lead):
        return pre(as_json(lead.extra)) if lead.extra else "None"

    @admin.display(description="Problems about ownership demographics")
    def restricted_problems(self, lead: Lead):
        return problem_list(lead.restricted.get(firewall.RESTRICTED_PROBLEMS, []))

    @admin.display(description="Unknown keys that carry ownership demographics, as sent")
    def restricted_extra_keys(self, lead: Lead):
        extra = lead.restricted.get(firewall.RESTRICTED_EXTRA)
        return pre(as_json(extra)) if extra else "None"

    @admin.display(description="Newest delivery applied")
    def applied_delivery_link(self, lead: Lead):
        return delivery_link(lead.applied_delivery_id)


def _csv_response(request, leads, source: str) -> StreamingHttpResponse:
    lines = export.audited_lines(
        leads, user=request.user, source=source, filters=request.GET.dict()
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="leads-{stamp}.csv"'
    return response


def _possible_duplicates(lead: Lead) -> list[Lead]:
    """Other leads CRF gave the same duplicateId (lead_duplicate_idx)."""
    if not lead.duplicate_id:
        return []
    return list(
        Lead.objects.filter(duplicate_id=lead.duplicate_id)
        .exclude(pk=lead.pk)
        .order_by("-date_created")[:20]
    )


def _fraud_badge(lead: Lead):
    if lead.fraud_score is None:
        return EMPTY
    score = f"{lead.fraud_score.normalize():f}"
    band = fraud_band(lead.fraud_score)
    if band is None:  # below 0: CRF's scores run from 0 to 1
        return score
    withheld = " (withheld)" if lead.fraud_score >= WITHHELD_FROM else ""
    return badge(f"{score}{withheld}", band.colour, wrap=True)


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _activity_form(request, bound: ActivityForm | None) -> ActivityForm | None:
    """The "Log a call, email or meeting" form: `?log=call` (the links beside the phone number
    and the email address) chooses the kind."""
    if not request.user.has_perm("leads.add_activity"):
        return None
    if bound is not None:
        return bound
    kind = request.GET.get("log", "")
    return ActivityForm(initial={"kind": kind} if kind in ActivityKind.values else None)


def _assign_choices(request, lead: Lead) -> dict | None:
    """What the page offers about the officer: take, release, or (managers) give to anyone."""
    user = request.user
    if not user.has_perm("leads.assign_lead"):
        return None
    manager = user.has_perm("leads.reassign_lead")
    mine = lead.assigned_officer_id == user.pk
    free = lead.assigned_officer_id is None
    return {
        "can_take": not mine and (free or manager),
        "can_release": not free and (mine or manager),
        "officers": list(ownership_services.officers()) if manager else [],
    }


def _summary(lead: Lead) -> list[tuple[str, str]]:
    """The top of a lead's page: (label, HTML) rows, for working the lead at a glance."""
    name = f"{lead.first_name} {lead.last_name}".strip() or EMPTY
    contact = [format_html("{}", name)]
    if lead.email:
        contact.append(
            format_html(
                '<a href="mailto:{}">{}</a> <a class="log-link" href="?log=email#log-activity">'
                "log email</a>",
                lead.email,
                lead.email,
            )
        )
    if lead.phone:
        dial = "".join(c for c in lead.phone if c.isdigit() or c == "+")
        contact.append(
            format_html(
                '<a href="tel:{}">{}</a> <a class="log-link" href="?log=call#log-activity">'
                "log call</a>",
                dial,
                lead.phone,
            )
        )
    prefers = ", ".join(
        text
        for text in (
            lead.get_preferred_contact_method_display(),
            lead.get_preferred_contact_time_display(),
        )
        if text
    )
    if prefers:
        contact.append(format_html("prefers {}", prefers))
    band = fraud_band(lead.fraud_score) if lead.fraud_score is not None else None
    fraud = _fraud_badge(lead)
    if band is not None:
        fraud = format_html("{} band {}", fraud, band.label)
    received = format_html(
        "{} ago ({}; created at CRF {})",
        timesince(lead.first_seen_at),
        when(lead.first_seen_at),
        when(lead.date_created),
    )
    return [
        ("Business", lead.name_of_business or EMPTY),
        ("Contact", format_html_join(" · ", "{}", ((part,) for part in contact))),
        ("Status", two_truths(lead)),
        ("Fraud score", fraud),
        ("Requested amount", money(lead.requested_amount)),
        ("Matched product", str(lead.matched_product or EMPTY)),
        ("Assigned officer", str(lead.assigned_officer or "Nobody yet")),
        ("Received", received),
        ("First contact", _first_contact(lead)),
        ("Next action", when(lead.next_action_at) if lead.next_action_at else "None planned"),
    ]


def _first_contact(lead: Lead) -> str:
    if lead.first_contact_at is not None:
        waited = timesince(lead.date_created, lead.first_contact_at) if lead.date_created else ""
        return format_html(
            "{}{}", when(lead.first_contact_at), f" ({waited} after)" if waited else ""
        )
    if not lead.is_open:
        return "None"
    if lead.is_overdue:
        return format_html(
            '<span class="overdue">Overdue: untouched for {}</span>', timesince(lead.date_created)
        )
    return "Not yet"
