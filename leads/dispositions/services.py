"""Dispositions and their write-back to CRF (docs/contract.md#16-dispositions).

Recording one commits the history entry and the outbox row together; a task sends it after the
commit. A lead's write-backs go out one at a time, oldest first, under the lead's row lock; a newer
disposition supersedes an older one not yet sent. A send that may have reached CRF without an
answer is read back (GET ?leadId=) before it is posted again: CRF gets each update once.
"""

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from leadcrm.enqueue import enqueue_on_commit, publish_each
from leads.choices import Confirmation, DispositionSource, WriteBack
from leads.models import Disposition, Lead
from leads.ownership import services as ownership

from . import crf_api

log = logging.getLogger(__name__)

# Queued by name: the task module imports this one.
SEND_TASK = "leads.dispositions.send"
MAX_ATTEMPTS = 12  # 30 s, doubling to an hour between tries: about seven hours, then a person
FIRST_RETRY_SECONDS = 30
LONGEST_WAIT_SECONDS = 3600
# A fresh row is its own task's to send; the sweep takes it only after this.
SWEEP_GRACE = timedelta(seconds=30)
SWEEP_LIMIT = 1000
UNSENT = (WriteBack.LOCAL, WriteBack.PENDING, WriteBack.FAILED)
IN_OUTBOX = (WriteBack.PENDING, WriteBack.SENDING)


def claim_timeout() -> timedelta:
    """How long a sender may hold a write-back for one request (connect and read timeouts, and a
    margin) before another may take it: it renews the claim before each request."""
    return timedelta(seconds=2 * settings.CRF_API_TIMEOUT + 5)


def record(lead: Lead, body: dict, author, source: str = DispositionSource.PAGE) -> Disposition:
    """Record a disposition and, with a CRF key configured, queue its write-back; commits."""
    with transaction.atomic():
        Lead.objects.select_for_update().filter(pk=lead.pk).first()
        now = timezone.now()
        lead.dispositions.filter(state__in=UNSENT).update(
            state=WriteBack.SUPERSEDED, next_attempt_at=None
        )
        sending = crf_api.configured()
        disposition = Disposition.objects.create(
            lead=lead,
            status=body["status"],
            body=body,
            author=author,
            source=source,
            created_at=now,
            state=WriteBack.PENDING if sending else WriteBack.LOCAL,
            next_attempt_at=now if sending else None,
        )
        Lead.objects.filter(pk=lead.pk).update(disposition=disposition)
        lead.disposition = disposition
        ownership.disposition_set(lead.pk, disposition.status, now)
        if sending:
            enqueue_on_commit(SEND_TASK, str(lead.pk))
    return disposition


def send(lead_id: uuid.UUID) -> Disposition | None:
    """Send the lead's next write-back, if one is due and no one else is sending it; then queue
    the one after it. Returns the write-back attempted."""
    if not crf_api.configured():
        return None
    disposition = _claim(lead_id)
    if disposition is None:
        return None
    result = None
    if disposition.uncertain:
        result = _read_back_first(disposition)
    if result is None:
        if not _renew(disposition):
            return disposition
        result = crf_api.update_lead(disposition.body)
    _finish(disposition, result)
    if isinstance(result, crf_api.Sent | crf_api.Refused):
        # The next one of this lead, if any, waits for no sweep.
        if Disposition.objects.filter(lead_id=lead_id, state=WriteBack.PENDING).exists():
            enqueue_on_commit(SEND_TASK, str(lead_id))
    return disposition


def _claim(lead_id: uuid.UUID) -> Disposition | None:
    now = timezone.now()
    with transaction.atomic():
        if Lead.objects.select_for_update().filter(pk=lead_id).first() is None:
            return None
        head = (
            Disposition.objects.filter(lead_id=lead_id, state__in=IN_OUTBOX).order_by("id").first()
        )
        if head is None:
            return None
        if head.state == WriteBack.SENDING:
            if head.claimed_at > now - claim_timeout():
                return None  # another sender has it
            head.uncertain = True  # its sender died, perhaps after CRF took it
        elif head.next_attempt_at and head.next_attempt_at > now:
            return None  # not due yet
        head.state = WriteBack.SENDING
        head.claimed_at = now
        head.attempts += 1
        head.save(update_fields=["state", "claimed_at", "attempts", "uncertain"])
    return head


def _renew(disposition: Disposition) -> bool:
    """Renew the claim before a request; False when another sender took the row meanwhile."""
    now = timezone.now()
    renewed = Disposition.objects.filter(
        pk=disposition.pk, state=WriteBack.SENDING, claimed_at=disposition.claimed_at
    ).update(claimed_at=now)
    if renewed:
        disposition.claimed_at = now
    else:
        log.warning("Write-back %s was taken over by another sender", disposition.pk)
    return bool(renewed)


def _read_back_first(disposition: Disposition):
    """An earlier attempt may have reached CRF: if CRF already shows the status, it did (Sent);
    a failed read is that attempt's outcome; otherwise None, and the write-back is posted."""
    if not _renew(disposition):
        return crf_api.Retry("taken over by another sender")
    answer = crf_api.read_lead(disposition.lead_id)
    if isinstance(answer, crf_api.ReadBack):
        _note_read_back(disposition, answer.status)
        return crf_api.Sent() if answer.status == disposition.status else None
    if isinstance(answer, crf_api.Refused):
        return None  # the post will say the same, with CRF's words, or succeed
    return answer


def _finish(disposition: Disposition, result) -> None:
    now = timezone.now()
    mine = Disposition.objects.filter(
        pk=disposition.pk, state=WriteBack.SENDING, claimed_at=disposition.claimed_at
    )
    if isinstance(result, crf_api.Sent):
        changes = dict(state=WriteBack.SENT, sent_at=now, error="", problem={}, uncertain=False)
    elif isinstance(result, crf_api.Refused):
        changes = dict(state=WriteBack.FAILED, error=result.error, problem=result.problem)
    elif disposition.attempts >= MAX_ATTEMPTS:
        gave_up = f"{result.error}; gave up after {disposition.attempts} attempts"
        changes = dict(state=WriteBack.FAILED, error=gave_up)
    else:
        wait = _wait(disposition.attempts, result.after)
        changes = dict(
            state=WriteBack.PENDING,
            error=result.error,
            next_attempt_at=now + wait,
            uncertain=disposition.uncertain or result.maybe_applied,
        )
        if mine.update(**changes):
            enqueue_on_commit(SEND_TASK, str(disposition.lead_id), countdown=wait.total_seconds())
        return
    changes.setdefault("next_attempt_at", None)
    if not mine.update(**changes):
        log.warning("Write-back %s was taken over by another sender", disposition.pk)


def _wait(attempts: int, retry_after: float | None) -> timedelta:
    """CRF's Retry-After when it sent one; otherwise 30 s doubling, at most an hour."""
    if retry_after is not None:
        seconds = retry_after
    else:
        seconds = FIRST_RETRY_SECONDS * 2 ** (attempts - 1)
    return timedelta(seconds=min(max(seconds, 1), LONGEST_WAIT_SECONDS))


def sweep(limit: int = SWEEP_LIMIT) -> int:
    """Queue the leads whose write-back is due and has no live task: a retry that is due, one
    whose task the broker lost, one whose sender died. Returns how many were queued. Without a
    key nothing is queued: the tasks would find nothing they may send."""
    if not crf_api.configured():
        return 0
    now = timezone.now()
    due = (
        Disposition.objects.filter(
            Q(state=WriteBack.PENDING, next_attempt_at__lte=now - SWEEP_GRACE)
            | Q(state=WriteBack.SENDING, claimed_at__lt=now - claim_timeout())
        )
        .order_by()
        .values_list("lead_id", flat=True)
        .distinct()[:limit]
    )
    return publish_each(SEND_TASK, [(str(lead_id),) for lead_id in due])


def resend(dispositions: QuerySet) -> int:
    """Queue again the chosen write-backs that failed or were recorded without a key, each the
    newest of its lead (an older one is superseded). Returns how many."""
    lead_ids = []
    with transaction.atomic():
        chosen = dispositions.filter(
            state__in=(WriteBack.FAILED, WriteBack.LOCAL), lead__disposition=F("pk")
        )
        lead_ids = list(chosen.values_list("lead_id", flat=True))
        Disposition.objects.filter(pk__in=chosen.values("pk")).update(
            state=WriteBack.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            error="",
            problem={},
        )
        for lead_id in lead_ids:
            enqueue_on_commit(SEND_TASK, str(lead_id))
    return len(lead_ids)


def unsent() -> QuerySet:
    """Dispositions recorded while no CRF key was set, each the newest of its lead."""
    return Disposition.objects.filter(state=WriteBack.LOCAL, lead__disposition=F("pk"))


def confirm(lead_id: uuid.UUID, statuses) -> int:
    """CRF's lead update shows these statuses: the write-backs of them it took are confirmed."""
    return Disposition.objects.filter(
        lead_id=lead_id,
        status__in=list(statuses),
        confirmed_at=None,
        state__in=(WriteBack.SENDING, WriteBack.SENT),
    ).update(confirmed_at=timezone.now(), confirmed_by=Confirmation.WEBHOOK)


def to_reconcile() -> QuerySet:
    """Write-backs CRF has not confirmed (sent and unconfirmed, or failed), newest of each lead."""
    return Disposition.objects.filter(
        Q(state=WriteBack.FAILED) | Q(state=WriteBack.SENT, confirmed_at=None),
        lead__disposition=F("pk"),
    ).order_by("-id")


def reconcile_one(disposition: Disposition) -> str:
    """Read the lead back from CRF and record what it says; returns CRF's status or the error."""
    answer = crf_api.read_lead(disposition.lead_id)
    if not isinstance(answer, crf_api.ReadBack):
        Disposition.objects.filter(pk=disposition.pk).update(
            checked_at=timezone.now(), crf_status=""
        )
        return answer.error
    _note_read_back(disposition, answer.status)
    return answer.status


def _note_read_back(disposition: Disposition, status: str) -> None:
    now = timezone.now()
    changes = {"crf_status": status, "checked_at": now}
    if status == disposition.status and disposition.confirmed_at is None:
        changes.update(confirmed_at=now, confirmed_by=Confirmation.READ_BACK)
        if disposition.state == WriteBack.FAILED:
            changes.update(state=WriteBack.SENT, error="")  # CRF has it after all
    Disposition.objects.filter(pk=disposition.pk).update(**changes)
    for name, value in changes.items():
        setattr(disposition, name, value)


def reconcile(limit: int | None = None) -> int:
    """The daily read-back (beat): each unconfirmed write-back once. Returns how many were read."""
    if not crf_api.configured():
        return 0
    chosen = to_reconcile()
    if limit:
        chosen = chosen[:limit]
    count = 0
    for disposition in chosen.iterator():
        reconcile_one(disposition)
        count += 1
    return count


def backlog() -> dict:
    """Counts for /healthz/, each served by a partial index however long the history."""
    waiting = Disposition.objects.filter(state__in=IN_OUTBOX)
    oldest = waiting.order_by("created_at").values_list("created_at", flat=True).first()
    failed = Disposition.objects.filter(state=WriteBack.FAILED, lead__disposition=F("pk"))
    return {
        "waiting": waiting.count(),
        "oldest_waiting_seconds": int((timezone.now() - oldest).total_seconds()) if oldest else 0,
        "failed": failed.count(),
    }
