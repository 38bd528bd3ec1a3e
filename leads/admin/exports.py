"""The export log: who exported which leads, when, and whether demographics were in it."""

from django.contrib import admin

from leadcrm.admin import ViewOnly
from leads.models import ExportLog


@admin.register(ExportLog)
class ExportLogAdmin(ViewOnly, admin.ModelAdmin):
    list_display = [
        "started_at",
        "user",
        "source",
        "rows",
        "with_demographics",
        "filters",
        "finished_at",
    ]
    list_filter = ["source", "with_demographics"]
    list_select_related = ["user"]
