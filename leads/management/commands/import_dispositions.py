"""`import_dispositions`: dispositions from a loan-origination system's CSV, written back to CRF
as the lead page writes them (leads.dispositions.csvimport)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from leads.dispositions import csvimport, forms

PERMISSION = "leads.add_disposition"


class Command(BaseCommand):
    help = (
        "Record the dispositions of a CSV file (header: CRF's field names, id or leadId and "
        "status required) and write them back to CRF. Every row is checked first: one bad row "
        "and nothing is recorded. A row whose lead already has that disposition is skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file (UTF-8, with or without a BOM)")
        parser.add_argument(
            "--as",
            dest="username",
            required=True,
            help="the staff user the dispositions are recorded as (needs leads.add_disposition)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and say what would be recorded"
        )

    def handle(self, *args, file: str, username: str, dry_run: bool, **_):
        author = _author(username)
        plan = self._check(file)
        if plan.bad:
            for cell in plan.bad:
                self.stderr.write(str(cell))
            raise CommandError(
                f"{len(plan.bad)} problems in {file}; nothing was recorded. "
                "Correct the rows above and run the import again."
            )
        unchanged = f"{len(plan.unchanged)} already recorded, skipped"
        if dry_run:
            for row in plan.to_record:
                self.stdout.write(f"row {row.number}: {row.lead_id}: {forms.describe(row.body)}")
            self.stdout.write(
                f"Dry run: {plan.rows} rows are good; would record {len(plan.to_record)} "
                f"dispositions as {author.get_username()} ({unchanged}). Nothing was recorded."
            )
            return
        bar = tqdm(total=len(plan.to_record), unit="row", desc="Recording", file=self.stderr._out)
        with bar:
            recorded = csvimport.apply(plan, author, recorded=bar.update)
        self.stdout.write(
            self.style.SUCCESS(
                f"Recorded {recorded} dispositions as {author.get_username()} ({unchanged})."
            )
        )

    def _check(self, file: str) -> csvimport.Plan:
        try:
            # newline="": the csv module reads line breaks inside quoted cells itself.
            with open(file, encoding="utf-8-sig", newline="") as lines:
                return csvimport.check(lines)
        except FileNotFoundError:
            raise CommandError(f"No such file: {file}") from None
        except IsADirectoryError:
            raise CommandError(f"{file} is a directory, not a CSV file.") from None
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text (byte {exc.start}).") from None
        except csvimport.UnreadableFile as exc:
            raise CommandError(f"{file}: {exc}") from None


def _author(username: str):
    user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
    if user is None:
        raise CommandError(f"No user named {username!r}.")
    if not user.is_active or not user.is_staff:
        raise CommandError(f"{username} is not an active staff user.")
    if not user.has_perm(PERMISSION):
        raise CommandError(f"{username} may not record dispositions ({PERMISSION}).")
    return user
