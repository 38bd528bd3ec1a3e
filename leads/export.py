"""The leads CSV (CONTRACT §8): CRF field names as the header, nested ones dotted, in the schema's
order; `ownershipDemographicTypes` only for who may see ownership demographics."""

from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from leadcrm import csvexport

from . import crf
from .models import ExportLog, Lead

DEMOGRAPHICS = "ownershipDemographicTypes"
Column = tuple[str, Callable[[Lead], Any]]


def columns(with_demographics: bool) -> list[Column]:
    return [column for column in _schema_order() if with_demographics or column[0] != DEMOGRAPHICS]


def _schema_order() -> Iterator[Column]:
    # In the schema, the partners stand before leadOwner and the product after it.
    for path, name in crf.LEAD_FIELDS:
        if path == "leadOwner":
            yield from _related("leadSource")
            yield from _related("servicePartner")
        yield path, _attribute(name)
        if path == "leadOwner":
            yield from _related("matchedProduct")
            yield from _related("productSet")


def _attribute(name: str) -> Callable[[Lead], Any]:
    return lambda lead: getattr(lead, name)


def _related(crf_name: str) -> Iterator[Column]:
    _, spec, foreign_key = crf.RELATED[crf_name]
    for path, name in spec:
        yield f"{crf_name}.{path}", _related_attribute(foreign_key, name)


def _related_attribute(foreign_key: str, name: str) -> Callable[[Lead], Any]:
    def get(lead: Lead) -> Any:
        related = getattr(lead, foreign_key)
        return getattr(related, name) if related else None

    return get


def lines(leads: QuerySet, *, with_demographics: bool) -> Iterator[str]:
    """The CSV, line by line; the database is read in chunks (a server-side cursor on PostgreSQL)."""
    chosen = columns(with_demographics)
    rows = (
        [get(lead) for _, get in chosen]
        for lead in leads.select_related(*crf.RELATED_FOREIGN_KEYS).iterator(chunk_size=2000)
    )
    return csvexport.stream([header for header, _ in chosen], rows)


def audited_lines(leads: QuerySet, *, user, source: str, filters: dict) -> Iterator[str]:
    """The CSV for `user` (demographics only if they may see them), logged before the first byte
    and completed with the row count when the stream ends, however it ends."""
    with_demographics = user is None or user.has_perm("leads.view_demographics")
    log = ExportLog.objects.create(
        user=user, source=source, filters=filters, with_demographics=with_demographics
    )
    return _counted(lines(leads, with_demographics=with_demographics), log)


def audited_command_lines(leads: QuerySet, *, filters: dict, with_demographics: bool) -> Iterator[str]:
    log = ExportLog.objects.create(
        source=ExportLog.Source.COMMAND, filters=filters, with_demographics=with_demographics
    )
    return _counted(lines(leads, with_demographics=with_demographics), log)


def _counted(csv_lines: Iterator[str], log: ExportLog) -> Iterator[str]:
    written = -1  # the header is not a row
    try:
        for line in csv_lines:
            written += 1
            yield line
    finally:
        ExportLog.objects.filter(pk=log.pk).update(rows=max(written, 0), finished_at=timezone.now())
