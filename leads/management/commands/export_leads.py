"""`export_leads`: the admin's leads CSV (docs/contract.md#11-csv-export), from the shell,
streamed to a file."""

import sys
import uuid
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from leads import export
from leads.models import ExportLog, Lead


class Command(BaseCommand):
    help = (
        "Write leads as CSV: the CRF field names as the header, in the schema's order. Ownership "
        "demographics are left out unless --with-demographics is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", required=True, help="file to write, or - for stdout")
        parser.add_argument("--status", help="only leads with this status")
        parser.add_argument(
            "--product", type=_uuid, help="only leads matched to this CRF product id"
        )
        parser.add_argument("--min-fraud", type=_score, help="fraud score at least this")
        parser.add_argument("--max-fraud", type=_score, help="fraud score at most this")
        parser.add_argument(
            "--with-demographics",
            action="store_true",
            help="include ownershipDemographicTypes (fair-lending data)",
        )

    def handle(self, *args, output, with_demographics, **filters):
        leads = _filtered(Lead.objects.order_by("-date_created", "id"), **filters)
        total = leads.count()
        bar = tqdm(
            total=total, unit="lead", desc="Exporting", file=self.stderr._out, disable=output == "-"
        )
        target = sys.stdout if output == "-" else _open(output)
        try:
            with bar:
                csv_text = export.audited_lines(
                    leads,
                    user=None,
                    source=ExportLog.Source.COMMAND,
                    filters=_printable(filters),
                    with_demographics=with_demographics,
                )
                for number, piece in enumerate(csv_text):
                    target.write(piece)
                    if number:  # the first piece is the header; a cell may hold a line break too
                        bar.update(min(piece.count("\n"), bar.total - bar.n))
        finally:
            if target is not sys.stdout:
                target.close()
        if output != "-":
            self.stdout.write(self.style.SUCCESS(f"Wrote {total} leads to {output}."))


def _printable(filters: dict) -> dict:
    return {
        name: str(value) for name, value in filters.items() if name in FILTERS and value is not None
    }


FILTERS = ("status", "product", "min_fraud", "max_fraud")


def _filtered(leads, *, status, product, min_fraud, max_fraud, **_):
    if status:
        leads = leads.filter(status=status)
    if product:
        leads = leads.filter(matched_product__crf_id=product)
    if min_fraud is not None:
        leads = leads.filter(fraud_score__gte=min_fraud)
    if max_fraud is not None:
        leads = leads.filter(fraud_score__lte=max_fraud)
    return leads


def _open(path: str):
    try:
        return open(path, "w", newline="", encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"Cannot write {path}: {exc.strerror or exc}.") from None


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"--product takes a CRF product id (a UUID), not {value!r}.") from None


def _score(value: str) -> Decimal:
    try:
        score = Decimal(value)
    except InvalidOperation:
        score = None
    if score is None or not Decimal(0) <= score <= Decimal(1):
        raise CommandError(f"A fraud score is a number from 0 to 1, not {value!r}.")
    return score
