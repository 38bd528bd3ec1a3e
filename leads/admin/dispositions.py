"""Write-backs to CRF: every disposition staff recorded and where its write-back is
(leads.dispositions.services), with resending for managers. Read-only: a log of what was told to
CRF. The API key is never shown: pages say only whether one is set."""

import json
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from leadcrm.admin import EstimatedCountPaginator, ViewOnly, uuid_or_none
from leads.choices import WriteBack
from leads.dispositions import crf_api, forms, services
from leads.models import Disposition

from .display import EMPTY, clipped, pre

RESEND_PERMISSION = "leads.resend_disposition"
# Sent this long ago and CRF has not shown the status since: a person should look.
UNCONFIRMED_FOR = timedelta(days=1)
# The list's column; the filters and a write-back's page say it in full.
SHORT_STATES = {
    WriteBack.LOCAL: "Here only",
    WriteBack.PENDING: "Waiting",
    WriteBack.SENDING: "Sending",
    WriteBack.SENT: "Sent",
    WriteBack.FAILED: "Failed",
    WriteBack.SUPERSEDED: "Superseded",
}
# The query-string lookups this list's field filters make (`state__exact=failed`).
FILTER_LOOKUPS = ("exact",)


class NeedsAttentionFilter(admin.SimpleListFilter):
    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", "Failed, or sent and unconfirmed for over a day")]

    def queryset(self, request, queryset):
        if self.value() != "yes":
            return queryset
        # Implies disposition_attention_idx's condition, so the newest-first list reads that
        # partial index: few rows, however long the history.
        late = timezone.now() - UNCONFIRMED_FOR
        return queryset.filter(
            Q(state=WriteBack.FAILED) | Q(state=WriteBack.SENT, confirmed_at=None, sent_at__lt=late)
        )


class ConfirmedFilter(admin.SimpleListFilter):
    title = "confirmed by CRF"
    parameter_name = "confirmed"

    def lookups(self, request, model_admin):
        return [("yes", "Confirmed"), ("no", "Not confirmed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(confirmed_at=None)
        if self.value() == "no":
            return queryset.filter(confirmed_at=None)
        return queryset


@admin.register(Disposition)
class DispositionAdmin(ViewOnly, admin.ModelAdmin):
    # Long texts come as `clipped` cells (leads/static/leads/lead_list.css, as the lead list).
    list_display = [
        "lead_link",
        "status",
        "description",
        "state_short",
        "attempts",
        "next_attempt",
        "problem_summary",
        "author",
        "created",
        "confirmed",
    ]
    list_filter = ["state", "status", NeedsAttentionFilter, ConfirmedFilter]
    list_select_related = ["lead", "author"]
    search_fields = ["=lead__id"]  # shows the search box; get_search_results does the lookup
    search_help_text = "An exact CRF lead id."
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter value, over the whole table
    actions = ["resend"]
    change_list_template = "admin/leads/disposition/change_list.html"
    fields = [
        "lead_link",
        "status",
        "description",
        "source",
        "author",
        "created_at",
        "state",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "uncertain",
        "error",
        "problem_details",
        "confirmed",
        "read_back",
        "body_sent",
    ]

    def lookup_allowed(self, lookup, value, request=None) -> bool:
        """Only what the list's own filters put in the query string: Django would take any lookup
        through the lead (`?lead__ownership_demographic_types__icontains=…`), and the rows it
        selects would be the demographic (leads.firewall)."""
        fields = {item for item in self.list_filter if isinstance(item, str)}
        parameters = {item.parameter_name for item in self.list_filter if isinstance(item, type)}
        field, _, lookup_type = lookup.partition("__")
        return lookup in parameters or (field in fields and lookup_type in FILTER_LOOKUPS)

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        lead_id = uuid_or_none(search_term)  # disposition_lead_idx
        return (queryset.none() if lead_id is None else queryset.filter(lead_id=lead_id)), False

    def get_urls(self):
        own = [
            path(
                "send-unsent/",
                self.admin_site.admin_view(require_POST(self.send_unsent_view)),
                name="leads_disposition_send_unsent",
            )
        ]
        return own + super().get_urls()

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm(RESEND_PERMISSION)

    def changelist_view(self, request, extra_context=None):
        configured = crf_api.configured()
        extra = {
            "title": "Write-backs to CRF",
            "crf_configured": configured,
            # Only with a key: without one there is nowhere to send them yet.
            "unsent_count": services.unsent().count() if configured else 0,
            "can_resend": self.has_resend_permission(request),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"title": "Write-back to CRF", **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    @admin.action(description="Resend to CRF", permissions=["resend"])
    def resend(self, request, queryset):
        if not crf_api.configured():
            self.message_user(request, "No CRF key is set: nothing can be sent.", messages.ERROR)
            return
        chosen = queryset.count()
        queued = services.resend(queryset)
        self.message_user(request, _resend_message(queued, chosen - queued), _level(queued))

    def send_unsent_view(self, request):
        """The banner's button: what was recorded while no key was set, now that one is."""
        if not self.has_resend_permission(request):
            raise PermissionDenied
        if crf_api.configured():
            queued = services.resend(services.unsent())
            self.message_user(request, _resend_message(queued, 0), _level(queued))
        else:
            self.message_user(request, "No CRF key is set: nothing can be sent.", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:leads_disposition_changelist"))

    @admin.display(description="Lead", ordering="lead_id")
    def lead_link(self, disposition: Disposition):
        url = reverse("admin:leads_lead_change", args=[disposition.lead_id])
        return format_html('<a href="{}">{}</a>', url, clipped(disposition.lead))

    @admin.display(description="Disposition")
    def description(self, disposition: Disposition):
        return clipped(forms.describe(disposition.body))

    @admin.display(description="State", ordering="state")
    def state_short(self, disposition: Disposition) -> str:
        return SHORT_STATES.get(disposition.state, disposition.state)

    @admin.display(description="Next attempt", ordering="next_attempt_at")
    def next_attempt(self, disposition: Disposition) -> str:
        return _when(disposition.next_attempt_at)

    @admin.display(description="Created", ordering="id")
    def created(self, disposition: Disposition) -> str:
        return _when(disposition.created_at)

    @admin.display(description="Error / CRF's problem")
    def problem_summary(self, disposition: Disposition):
        return clipped(_problem_words(disposition))

    @admin.display(description="CRF's problem (ProblemDetails)")
    def problem_details(self, disposition: Disposition):
        if not disposition.problem:
            return "None"
        return pre(json.dumps(disposition.problem, indent=2, ensure_ascii=False))

    @admin.display(description="Confirmed", ordering="confirmed_at")
    def confirmed(self, disposition: Disposition) -> str:
        if disposition.confirmed_at is None:
            return EMPTY
        return f"{disposition.get_confirmed_by_display()}, {_when(disposition.confirmed_at)}"

    @admin.display(description="Last read back from CRF")
    def read_back(self, disposition: Disposition) -> str:
        if disposition.checked_at is None:
            return "Never"
        shown = disposition.crf_status or "could not be read"
        return f"{_when(disposition.checked_at)}: {shown}"

    @admin.display(description="Body sent to CRF")
    def body_sent(self, disposition: Disposition):
        return pre(json.dumps(disposition.body, indent=2, ensure_ascii=False))


def _when(moment) -> str:
    return EMPTY if moment is None else f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _problem_words(disposition: Disposition) -> str:
    """CRF's title and detail when it answered with a ProblemDetails, else our error."""
    problem = disposition.problem or {}
    words = ": ".join(str(problem[k]) for k in ("title", "detail") if problem.get(k))
    return words or disposition.error


def _resend_message(queued: int, skipped: int) -> str:
    message = ngettext(
        "Queued %(n)d write-back for sending to CRF.",
        "Queued %(n)d write-backs for sending to CRF.",
        queued,
    ) % {"n": queued}
    if skipped:
        message += " " + ngettext(
            "Skipped %(n)d: only the newest disposition of a lead, failed or recorded without a "
            "key, is resent (an older one is superseded; one sent or on its way needs nothing).",
            "Skipped %(n)d: only the newest disposition of a lead, failed or recorded without a "
            "key, is resent (older ones are superseded; those sent or on their way need nothing).",
            skipped,
        ) % {"n": skipped}
    return message


def _level(queued: int) -> int:
    return messages.SUCCESS if queued else messages.WARNING
