"""`pull_crf_leads [--queue] [--blob]`: one pull from the configured Azure Storage sources
(docs/contract.md#10-management-commands). Celery beat runs the same pull every
CRF_AZURE_POLL_SECONDS; `--loop` does it in this process, for `make run`, where there is no beat."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from leads.choices import DeliverySource
from leads.models import PullRun
from leads.pull import runs as pull
from leads.pull.base import describe


class Command(BaseCommand):
    help = (
        "Pull CRF leads once from the Azure Storage queue (CRF_AZURE_QUEUE_URL) and/or blob "
        "container (CRF_AZURE_BLOB_URL); without --queue or --blob, from every configured one."
    )

    def add_arguments(self, parser):
        parser.add_argument("--queue", action="store_true", help="pull from the queue")
        parser.add_argument("--blob", action="store_true", help="pull from the blob container")
        parser.add_argument(
            "--loop",
            action="store_true",
            help="keep pulling every CRF_AZURE_POLL_SECONDS until interrupted",
        )

    def handle(self, *args, queue: bool, blob: bool, loop: bool, **options):
        sources = self._sources(queue, blob)
        if not sources:
            self.stdout.write("Nothing to pull: CRF_AZURE_QUEUE_URL, CRF_AZURE_BLOB_URL unset.")
            return
        if not loop:
            if not self._pull(sources):
                raise CommandError("A pull failed: see above, and the pull runs in the admin.")
            return
        while True:
            try:
                self._pull(sources)
            except Exception as exc:  # the database went away: try again next time
                self.stderr.write(f"Pull failed: {describe(exc)}")
            time.sleep(settings.CRF_AZURE_POLL_SECONDS)

    def _sources(self, queue: bool, blob: bool) -> list[str]:
        configured = pull.configured_sources()
        if not (queue or blob):
            return configured
        chosen = [DeliverySource.AZURE_QUEUE] * queue + [DeliverySource.AZURE_BLOB] * blob
        for source in chosen:
            if source not in configured:
                raise CommandError(f"{pull.SETTINGS[source]} is not set.")
        return chosen

    def _pull(self, sources: list[str]) -> bool:
        """One run per source, each summed up on a line; False when one of them failed."""
        runs = [pull.pull(source) for source in sources]
        for run in runs:
            self.stdout.write(_summary(run), self.style.ERROR if run.error else self.style.SUCCESS)
        return not any(run.error for run in runs)


def _summary(run: PullRun) -> str:
    line = (
        f"{run.get_source_display()} {run.target or '(refused)'}: taken {run.taken}, "
        f"duplicates {run.duplicates}, rejected {run.rejected}, failed {run.failed}, "
        f"pending {'?' if run.pending is None else run.pending}"
    )
    return f"{line}\n  {run.error}" if run.error else line
