"""Admin pieces both partner integrations share."""

import uuid

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    """Takes an unfiltered big table's size from PostgreSQL's statistics: an exact count(*)
    would scan every row on every page view. Filtered lists are still counted exactly."""

    ESTIMATE_ABOVE = 10_000

    @cached_property
    def count(self) -> int:
        if not self.object_list.query.where:
            estimate = _estimated_rows(self.object_list)
            if estimate > self.ESTIMATE_ABOVE:
                return estimate
        return super().count


def _estimated_rows(queryset) -> int:
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0  # -1 until the table is first analysed


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

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.present)
        if self.value() == "no":
            return queryset.exclude(self.present)
        return queryset
