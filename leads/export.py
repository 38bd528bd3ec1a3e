"""The leads CSV (CONTRACT §8): CRF field names as the header, nested ones dotted, in the schema's
order; `ownershipDemographicTypes` only for who may see ownership demographics."""

from collections.abc import Generator, Iterator

from django.db import connections, models
from django.db.models import QuerySet
from django.utils import timezone

from leadcrm import csvexport

from . import firewall
from .intake import crf
from .models import ExportLog, Lead

Column = tuple[str, str, models.Field]  # CSV header, ORM lookup, the model field it reads


def columns(with_demographics: bool) -> list[Column]:
    return [
        column for column in _schema_order()
        if with_demographics or column[1] not in firewall.SENSITIVE_FIELDS
    ]


def _schema_order() -> Iterator[Column]:
    # In the schema, the partners stand before leadOwner and the product after it.
    for path, name in crf.LEAD_FIELDS:
        if path == "leadOwner":
            yield from _related("leadSource")
            yield from _related("servicePartner")
        yield path, name, Lead._meta.get_field(name)
        if path == "leadOwner":
            yield from _related("matchedProduct")
            yield from _related("productSet")


def _related(crf_name: str) -> Iterator[Column]:
    model, spec, foreign_key = crf.RELATED[crf_name]
    for path, name in spec:
        yield f"{crf_name}.{path}", f"{foreign_key}__{name}", model._meta.get_field(name)


def lines(leads: QuerySet, *, with_demographics: bool) -> Generator[str, None, int]:
    """The CSV in pieces of text, streamed; returns the row count once it has all been read.

    PostgreSQL writes the rows itself (COPY … TO STDOUT, cells made by csvexport's SQL); other
    databases are read in chunks and the cells made in Python. The two give the same text.
    """
    chosen = columns(with_demographics)
    yield csvexport.header([header for header, _, _ in chosen])
    connection = connections[leads.db]
    if connection.vendor == "postgresql":
        cells = leads.values_list(*[csvexport.sql_cell(lookup, field) for _, lookup, field in chosen])
        return (yield from csvexport.copied(cells, connection))
    rows = leads.values_list(*[lookup for _, lookup, _ in chosen]).iterator(chunk_size=2000)
    return (yield from csvexport.written(rows))


def audited_lines(leads: QuerySet, *, user, source: str, filters: dict) -> Iterator[str]:
    """The CSV for `user` (demographics only if they may see them), logged before the first byte
    and completed when the stream ends, however it ends (with the row count if read to the end)."""
    with_demographics = firewall.may_see(user)
    log = ExportLog.objects.create(
        user=user, source=source, filters=filters, with_demographics=with_demographics
    )
    return _counted(lines(leads, with_demographics=with_demographics), log)


def audited_command_lines(leads: QuerySet, *, filters: dict, with_demographics: bool) -> Iterator[str]:
    log = ExportLog.objects.create(
        source=ExportLog.Source.COMMAND, filters=filters, with_demographics=with_demographics
    )
    return _counted(lines(leads, with_demographics=with_demographics), log)


def _counted(csv_text: Generator[str, None, int], log: ExportLog) -> Iterator[str]:
    rows = None  # an export cut short (the browser went away) keeps no row count
    try:
        rows = yield from csv_text
    finally:
        ExportLog.objects.filter(pk=log.pk).update(rows=rows, finished_at=timezone.now())
