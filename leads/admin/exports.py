"""The export log: who exported which leads, when, and whether demographics were in it."""

from django.contrib import admin

from leadcrm.admin import FIT_LIST_CSS, ViewOnly, when
from leads.models import ExportLog

from .display import EMPTY, clipped


@admin.register(ExportLog)
class ExportLogAdmin(ViewOnly, admin.ModelAdmin):
    # Long texts come as `clipped` cells, dates as `when`: leadcrm/static/leadcrm/fit_list.css
    # fits the columns beside both sidebars on a 1400-px screen.
    list_display = [
        "started",
        "person",
        "source",
        "row_count",
        "with_demographics",
        "filter_list",
        "finished",
    ]
    list_filter = ["source", "with_demographics"]
    list_select_related = ["user"]

    class Media:
        css = FIT_LIST_CSS

    @admin.display(description="Started", ordering="started_at")
    def started(self, log: ExportLog):
        return when(log.started_at)

    @admin.display(description="Finished", ordering="finished_at")
    def finished(self, log: ExportLog):
        return when(log.finished_at)

    @admin.display(description="User", ordering="user")
    def person(self, log: ExportLog):
        if log.user is None:  # the shell's export, or a person since deleted
            return "(the shell)" if log.source == ExportLog.Source.COMMAND else EMPTY
        return clipped(log.user)

    @admin.display(description="Rows", ordering="rows")
    def row_count(self, log: ExportLog) -> str:
        return EMPTY if log.rows is None else f"{log.rows:,}"

    @admin.display(description="Filters")
    def filter_list(self, log: ExportLog):
        """The filters and search as `name=value` pairs, one after another."""
        pairs = "; ".join(f"{name}={value}" for name, value in (log.filters or {}).items())
        return clipped(pairs or "(none)")
