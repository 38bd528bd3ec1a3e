"""Pulling from Azure Storage (leads.pull): the runs, each source's state, the blob ledger."""

from django.contrib import admin
from django.urls import reverse
from django.utils.text import Truncator

from leadcrm.admin import ViewOnly
from leads.models import PulledBlob, PullRun
from leads.pull import runs


@admin.register(PullRun)
class PullRunAdmin(ViewOnly, admin.ModelAdmin):
    """The last pulls, and above them each source's state: SAS expiry, what is pending."""

    list_display = [
        "started_at",
        "source",
        "target",
        "took",
        "taken",
        "duplicates",
        "rejected",
        "failed",
        "pending",
        "short_error",
    ]
    list_filter = ["source"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "pull_sources": runs.sources_status(),
            "pull_warnings": runs.health_warnings(),
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
