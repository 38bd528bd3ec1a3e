"""What the queue and blob pullers share: the tally of a run, how errors are told, and the one
door into the intake (`intake.services.receive_lead`)."""

from dataclasses import dataclass, field

from azure.core.exceptions import HttpResponseError

from leadcrm.logs import redact
from leads.choices import DeliverySource
from leads.intake import services

from . import sas

AZURE_QUEUE, AZURE_BLOB = DeliverySource.AZURE_QUEUE, DeliverySource.AZURE_BLOB
MAX_ERROR = 2000
# Azure's retry waits 15 s, then longer; a scheduled pull is retried by the next run anyway.
RETRY = {"initial_backoff": 1, "increment_base": 2, "retry_total": 2}
HINTS = {
    "AuthorizationPermissionMismatch": (
        " The SAS lacks a permission: a queue needs read + process, a container read + list"
        " (+ delete with CRF_AZURE_BLOB_DELETE). CRF's add-only SAS cannot read."
    ),
    "AuthenticationFailed": " The signature is wrong, or the SAS has expired.",
}

TAKEN, DUPLICATE, REJECTED = "taken", "duplicates", "rejected"


@dataclass
class Tally:
    taken: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0
    pending: int | None = None
    errors: list[str] = field(default_factory=list)

    def count(self, kind: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)

    def fail(self, what: str, exc: Exception) -> None:
        self.failed += 1
        self.errors.append(f"{what}: {describe(exc)}")


def describe(exc: Exception) -> str:
    """One line for a person, never the signature (urllib3 puts request URLs in its errors)."""
    code = getattr(exc, "error_code", None)
    if isinstance(exc, HttpResponseError) and code:
        first_line = str(exc.message or exc).splitlines()[0]
        return redact(f"{code}: {first_line}{HINTS.get(str(code), '')}")
    if isinstance(exc, sas.UnsafeSasUrl):
        return str(exc)
    return redact(f"{type(exc).__name__}: {exc}")[:MAX_ERROR]


def receive(body: bytes, headers: dict, source: str, queue_message_id: str | None = None) -> str:
    receipt = services.receive_lead(
        body, headers=headers, source=source, queue_message_id=queue_message_id
    )
    return REJECTED if receipt.invalid else DUPLICATE if receipt.duplicate else TAKEN
