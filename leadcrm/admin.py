"""Admin pieces both partner integrations share."""

import json
import uuid

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join


class EstimatedCountPaginator(Paginator):
    """Counts a list exactly up to ESTIMATE_ABOVE rows, reading no more than that; above it, takes
    PostgreSQL's estimate (the planner's, from the table's statistics) and says "about". An exact
    count(*) would read every matching row, a million for the whole table, on every page view."""

    ESTIMATE_ABOVE = 1_000
    estimated = False

    @cached_property
    def count(self) -> int:
        if connections[self.object_list.db].vendor != "postgresql":
            return super().count
        # A LIMIT inside the count, on keys in no order: any ESTIMATE_ABOVE + 1 rows will do.
        counted = self.object_list.order_by().values("pk")[: self.ESTIMATE_ABOVE + 1].count()
        if counted <= self.ESTIMATE_ABOVE:
            return counted
        self.estimated = True
        return max(_estimated_rows(self.object_list), counted)


def _estimated_rows(queryset) -> int:
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class ViewOnly:
    """Rows only CRF (through leads.services) changes: viewed here, never added, changed or
    deleted.

    View-only rather than "every field read-only": saving a read-only form would still write the
    whole row back, over whatever a worker applied since the page was loaded.
    """

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def uuid_or_none(text: str) -> uuid.UUID | None:
    """A search term that is a UUID, for an exact lookup on an index."""
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


class PresenceFilter(admin.SimpleListFilter):
    """A yes/no filter on whether rows have something (`present`, a Q); subclasses name it."""

    present = None
    labels = ("Yes", "No")

    def lookups(self, request, model_admin):
        return [("yes", self.labels[0]), ("no", self.labels[1])]

    def presence(self, request):
        """The condition for this request's user (a subclass may widen it by permission)."""
        return self.present

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.presence(request))
        if self.value() == "no":
            return queryset.exclude(self.presence(request))
        return queryset


def problem_list(problems: list[dict]):
    """A lead's or an alert's problems (leadcrm.lenient), one per line. Alerts stored before
    problems had a code show theirs without one."""
    if not problems:
        return "None"
    rows = (
        format_html("<li><b>{}</b>: {} ({})</li>", p.get("field"), p.get("detail"), p["code"])
        if p.get("code")
        else format_html("<li><b>{}</b>: {}</li>", p.get("field"), p.get("detail"))
        for p in problems
    )
    return format_html("<ul>{}</ul>", format_html_join("", "{}", ((row,) for row in rows)))


# Lists laid out to fit a 1400-px screen (an admin's `Media`): see the stylesheet.
FIT_LIST_CSS = {"all": ["leadcrm/fit_list.css"]}


def when(value):
    """A list cell's date and time, each kept whole: a narrow cell breaks between them."""
    if value is None:
        return "-"
    local = timezone.template_localtime(value)
    return format_html(
        '<time datetime="{}"><span>{}</span> <span>{}</span></time>',
        local.isoformat(),
        formats.date_format(local, "DATE_FORMAT"),
        formats.time_format(local, "TIME_FORMAT"),
    )
