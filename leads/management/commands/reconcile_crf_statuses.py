"""`reconcile_crf_statuses`: read back from CRF each write-back it has not confirmed, now (the
daily beat task does the same, quietly)."""

from dataclasses import dataclass, field

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from leads.dispositions import crf_api, services
from leads.models import Disposition


@dataclass
class Summary:
    confirmed: int = 0
    differ: list[tuple[Disposition, str]] = field(default_factory=list)
    unread: list[tuple[Disposition, str]] = field(default_factory=list)
    read: int = 0


class Command(BaseCommand):
    help = (
        "Read back from CRF the status of each write-back it has not confirmed (sent and "
        "unconfirmed, or failed; the newest of each lead) and say where CRF agrees, where it "
        "shows something else, and which could not be read. Exits with status 1 when nothing "
        "could be checked: no CRF_API_KEY, or no lead could be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, help="check at most this many, newest first")

    def handle(self, *args, limit: int | None, **_):
        if not crf_api.configured():
            raise CommandError(
                "CRF_API_KEY is not set: there is no CRF to read back from, and nothing was "
                "checked. Set CRF_API_KEY and CRF_PARTNER_ROUTE, then run this again."
            )
        chosen = services.to_reconcile()
        if limit:
            chosen = chosen[:limit]
        summary = Summary()
        bar = tqdm(total=chosen.count(), unit="lead", desc="Reading back", file=self.stderr._out)
        with bar:
            for disposition in chosen.iterator():
                _check(disposition, summary)
                bar.update()
        self._report(summary)
        if summary.unread and not summary.read:
            raise CommandError("No lead could be read back from CRF.")

    def _report(self, summary: Summary) -> None:
        checked = summary.read + len(summary.unread)
        self.stdout.write(f"Checked {checked} write-backs with CRF.")
        self.stdout.write(self.style.SUCCESS(f"Confirmed: {summary.confirmed}."))
        self.stdout.write(f"CRF shows something else: {len(summary.differ)}.")
        for disposition, status in summary.differ:
            self.stdout.write(f"  {disposition.lead_id}: ours {disposition.status}, CRF {status}")
        style = self.style.WARNING if summary.unread else str
        self.stdout.write(style(f"Could not be read: {len(summary.unread)}."))
        for disposition, error in summary.unread:
            self.stdout.write(f"  {disposition.lead_id}: {error}")


def _check(disposition: Disposition, summary: Summary) -> None:
    answer = services.reconcile_one(disposition)
    # reconcile_one returns CRF's status or the error in words; what it stored tells which.
    disposition.refresh_from_db(fields=["crf_status", "confirmed_at"])
    if not disposition.crf_status:
        summary.unread.append((disposition, answer or "CRF's answer has no status"))
        return
    summary.read += 1
    if disposition.crf_status == disposition.status:
        summary.confirmed += 1
    else:
        summary.differ.append((disposition, disposition.crf_status))
