"""CRS alert intake, notifications, the silence watch, and staff's work on alerts (marking them
handled, linking a CRS user to a lead): the domain work behind the webhook, the tasks, the admin
and the commands."""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import DataError, IntegrityError, transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from leadcrm import bulk
from leadcrm.enqueue import enqueue_on_commit
from leads.models import Lead, LeadSearchText

from . import crs, templating
from .models import (
    Alert,
    AlertDelivery,
    AlertType,
    CRSUser,
    Notification,
    NotificationRule,
    SilenceIncident,
    notification_context,
)

log = logging.getLogger(__name__)

# Queued by name: the task module imports this one, never the other way round.
NOTIFY_TASK = "alerts.tasks.notify_alerts"
TASK_CHUNK = 500  # alerts per notification task
MAX_SEND_ATTEMPTS = 5
# Rows a sender may try to claim (a SENDING one only once its claim is stale).
CLAIMABLE = (Notification.Status.PENDING, Notification.Status.FAILED, Notification.Status.SENDING)
SWEEP_GRACE = timedelta(minutes=2)


@dataclass(frozen=True)
class BatchReceipt:
    delivery: AlertDelivery
    answers: list[dict] | None = None  # one per item, in order
    invalid: crs.NotABatch | None = None


def receive_alerts(body: bytes, *, headers: dict | None = None) -> BatchReceipt:
    """Store the raw batch (committed first), then its usable items in bulk; answer each item."""
    delivery = AlertDelivery.objects.create(body=body, headers=headers or {})
    try:
        items = crs.read_batch(body)
    except crs.NotABatch as exc:
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            outcome=AlertDelivery.Outcome.REJECTED, error=exc.detail
        )
        return BatchReceipt(delivery, invalid=exc)
    refused = _store(delivery, items)
    # Stored now or by an earlier batch: either way committed, so CRS may stop sending it.
    stored = [item.values is not None and item.values["id"] not in refused for item in items]
    answers = [
        {"hook_id": item.hook_id, "status": ok} for item, ok in zip(items, stored, strict=True)
    ]
    return BatchReceipt(delivery, answers)


def _store(delivery: AlertDelivery, items: list[crs.Item]) -> set[uuid.UUID]:
    """Store the usable items in bulk; returns the ids the database refused (answered false).

    The reader makes every value storable, so a refusal means a defect of ours. Even then one item
    must not fail the batch: CRS would resend all of it every night. The items are then stored
    one at a time, each in a savepoint, and only those that still fail are refused.
    """
    usable: dict[uuid.UUID, dict] = {}
    for item in items:
        if item.values:
            usable.setdefault(item.values["id"], item.values)  # an id twice in a batch: the first
    received_at = timezone.now()
    refused: dict[uuid.UUID, str] = {}
    with transaction.atomic():
        try:
            with transaction.atomic():
                _insert(delivery, list(usable.values()), received_at)
        except ITEM_ERRORS as exc:
            log.error("CRS batch %s refused in bulk (%s); stored item by item", delivery.pk, exc)
            refused = _insert_one_by_one(delivery, list(usable.values()), received_at)
        stored = [alert_id for alert_id in usable if alert_id not in refused]
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            outcome=AlertDelivery.Outcome.ANSWERED,
            items=len(items),
            accepted=sum(1 for item in items if item.values and item.values["id"] not in refused),
            error="\n".join(f"{alert_id}: {error}" for alert_id, error in refused.items())[:10_000],
        )
        queue_notifications(stored)
    return set(refused)


# What a value can make the database (or the driver adapting it) refuse. Not OperationalError:
# a database that is down is a 503 for the whole batch, which CRS retries.
ITEM_ERRORS = (DataError, IntegrityError, ValueError, TypeError)


def _insert(delivery: AlertDelivery, rows: list[dict], received_at) -> None:
    user_ids = sorted({values["user_id"] for values in rows if values["user_id"]})
    people = [{"id": user_id, "first_seen_at": received_at} for user_id in user_ids]
    bulk.insert_new(CRSUser, people)
    # The notification id is the primary key: an item CRS sends again is stored once.
    bulk.insert_new(
        Alert,
        [{**values, "delivery_id": delivery.pk, "received_at": received_at} for values in rows],
    )


def _insert_one_by_one(delivery: AlertDelivery, rows: list[dict], received_at) -> dict:
    refused = {}
    for values in rows:
        try:
            with transaction.atomic():
                _insert(delivery, [values], received_at)
        except ITEM_ERRORS as exc:
            refused[values["id"]] = f"{type(exc).__name__}: {exc}"[:500]
    return refused


def queue_notifications(alert_ids: list) -> None:
    for start in range(0, len(alert_ids), TASK_CHUNK):
        chunk = [str(alert_id) for alert_id in alert_ids[start : start + TASK_CHUNK]]
        enqueue_on_commit(NOTIFY_TASK, chunk)


# --- Notifications ------------------------------------------------------------------------------


def notify(alert_ids: list) -> int:
    """Send what the rules ask for about these alerts; safe to run twice, and at the same time (the
    task and the sweep): each email goes to whoever claims it first. Returns emails sent."""
    rules: dict[str, list[NotificationRule]] = {}
    for rule in NotificationRule.objects.filter(active=True):
        rules.setdefault(rule.alert_type, []).append(rule)
    pending = Alert.objects.filter(pk__in=alert_ids, processed_at=None).select_related(
        "user__lead__assigned_officer"
    )
    sent, connection = 0, mail.get_connection()
    try:
        connection.open()  # one connection for the chunk …
    except Exception:
        pass  # … or, when the mail server is down, each send tries again and records its failure
    try:
        for alert in pending:
            sent += _notify_one(alert, rules.get(alert.type, []), connection)
    finally:
        connection.close()
    return sent


def _notify_one(alert: Alert, rules: list[NotificationRule], connection) -> int:
    sent, done = 0, True
    if alert.type != AlertType.TEST:  # TEST alerts are recorded and never notify anyone
        context = notification_context(alert)
        for rule in rules:
            for recipient in _recipients(rule, alert):
                note = _notification(alert, rule, recipient, context)
                if _claim(note):
                    sent += _send(note, connection)
                done &= _finished(note)
    if done:
        Alert.objects.filter(pk=alert.pk, processed_at=None).update(processed_at=timezone.now())
    return sent


def _recipients(rule: NotificationRule, alert: Alert) -> list[str]:
    user = alert.user
    lead = user.lead if user else None
    officer = lead.assigned_officer if lead else None
    candidates = [
        user.email if rule.notify_crs_user and user else "",
        officer.email if rule.notify_assigned_officer and officer else "",
        *rule.addresses.split(","),
    ]
    return list(dict.fromkeys(address.strip() for address in candidates if address.strip()))


def _notification(alert: Alert, rule: NotificationRule, recipient: str, context: dict):
    note, _ = Notification.objects.get_or_create(
        alert=alert, recipient=recipient, defaults={"rule": rule, **_rendered(rule, context)}
    )
    return note


def _rendered(rule: NotificationRule, context: dict) -> dict:
    """The email's words, or, when the rule's template fails on this alert (a filter raising on a
    value, a rule saved before templates were checked), the error, kept on a row never sent."""
    words = {}
    for part, text in (("subject", rule.subject_template), ("body", rule.body_template)):
        try:
            words[part] = templating.render(text, context)
        except Exception as exc:
            log.warning("Notification rule %s failed to render: %s", rule.pk, type(exc).__name__)
            error = f"The {part} template failed: {type(exc).__name__}: {exc}"[:2000]
            return {"status": Notification.Status.TEMPLATE_ERROR, "error": error}
    return {"subject": words["subject"].strip().replace("\n", " ")[:255], "body": words["body"]}


def claim_timeout() -> timedelta:
    """How long a claim holds. One send is a few socket operations, each bounded by EMAIL_TIMEOUT;
    a claim older than several of them is a crashed worker's, and its email is sent again."""
    return timedelta(seconds=max(60, 6 * (settings.EMAIL_TIMEOUT or 10)))


def _claim(note: Notification) -> bool:
    """Take the row for sending with one conditional UPDATE: of two senders that both read it
    pending, only one updates it, so only one sends. The loser reads where the winner is."""
    if note.status not in CLAIMABLE or note.attempts >= MAX_SEND_ATTEMPTS:
        return False
    now = timezone.now()
    claimable = Q(status__in=[Notification.Status.PENDING, Notification.Status.FAILED]) | Q(
        status=Notification.Status.SENDING, claimed_at__lt=now - claim_timeout()
    )
    won = Notification.objects.filter(claimable, pk=note.pk, attempts__lt=MAX_SEND_ATTEMPTS).update(
        status=Notification.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if won:
        note.status, note.attempts = Notification.Status.SENDING, note.attempts + 1
    else:
        note.refresh_from_db(fields=["status", "attempts"])
    return bool(won)


def _finished(note: Notification) -> bool:
    """Nothing more to do for this row: sent, given up on, or waiting for its rule to be fixed.
    A row another sender holds is not: its alert stays for the sweep."""
    return note.status in (Notification.Status.SENT, Notification.Status.TEMPLATE_ERROR) or (
        note.status != Notification.Status.SENDING and note.attempts >= MAX_SEND_ATTEMPTS
    )


def _send(note: Notification, connection) -> int:
    """Send one claimed email; the outcome goes to the row and is kept on `note` for the caller."""
    try:
        mail.EmailMessage(
            note.subject, note.body, to=[note.recipient], connection=connection
        ).send()
    except Exception as exc:  # SMTP and socket errors alike: recorded, retried by the sweep
        log.warning("Notification %s to an alert recipient failed: %s", note.pk, type(exc).__name__)
        Notification.objects.filter(pk=note.pk).update(
            status=Notification.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        note.status = Notification.Status.FAILED
        return 0
    Notification.objects.filter(pk=note.pk).update(
        status=Notification.Status.SENT, error="", sent_at=timezone.now()
    )
    note.status = Notification.Status.SENT
    return 1


def render_again(rule: NotificationRule) -> int:
    """After a rule is fixed: the notifications its template failed on are made again, from the
    rule as it is now, by the task queued here (and, should that be lost, the sweep). Returns how
    many alerts are notified again."""
    with transaction.atomic():
        failed = Notification.objects.filter(rule=rule, status=Notification.Status.TEMPLATE_ERROR)
        alert_ids = list(set(failed.values_list("alert_id", flat=True)))
        failed.delete()
        Alert.objects.filter(pk__in=alert_ids).update(processed_at=None)
        queue_notifications(alert_ids)
    return len(alert_ids)


def alerts_due_for_notification(
    grace: timedelta = SWEEP_GRACE, limit: int = 50_000
) -> list[uuid.UUID]:
    """Alerts whose notifications are not done (their task was lost, or a send failed)."""
    due = Alert.objects.filter(processed_at=None, received_at__lt=timezone.now() - grace)
    return list(due.order_by("received_at").values_list("id", flat=True)[:limit])


# --- Silence watch ------------------------------------------------------------------------------


def configured() -> bool:
    return bool(settings.CRS_WEBHOOK_USERNAME and settings.CRS_WEBHOOK_PASSWORD)


def silent_since():
    """When the last batch arrived, if CRS has been quiet for longer than a nightly batch takes."""
    if not configured():
        return None
    last = (
        AlertDelivery.objects.order_by("-received_at").values_list("received_at", flat=True).first()
    )
    expected = timedelta(hours=settings.CRS_EXPECTED_BATCH_HOURS)
    return last if last and timezone.now() - last > expected else None


def health_warnings() -> list[str]:
    """For /healthz/: CRS gone quiet, and notification rules whose templates fail."""
    last = silent_since()
    silence = [_silence_warning(last)] if last else []
    return [*silence, *_failed_render_warnings(), *_refused_rule_warnings()]


def _silence_warning(last) -> str:
    hours = int((timezone.now() - last).total_seconds() // 3600)
    return f"No CRS batch for {hours} hours (the last arrived {last:%Y-%m-%d %H:%M} UTC)."


def _failed_render_warnings() -> list[str]:
    """Rules whose template failed on real alerts: those notifications wait for the fix."""
    # A deleted rule's failures are left in the admin: there is nothing to fix.
    failed = Notification.objects.filter(
        status=Notification.Status.TEMPLATE_ERROR, rule__isnull=False
    )
    counts = failed.values("rule").annotate(count=Count("id"), newest=Max("id")).order_by("rule")
    errors = dict(failed.filter(pk__in=[c["newest"] for c in counts]).values_list("rule", "error"))
    rules = NotificationRule.objects.in_bulk([c["rule"] for c in counts])
    return [
        f"Notification rule {c['rule']} ({rules[c['rule']]}) failed to render {c['count']} "
        f"notification(s), not sent: {errors[c['rule']]}. Fix its template in the admin; saving "
        "the rule sends them."
        for c in counts
    ]


def _refused_rule_warnings() -> list[str]:
    """Active rules saved before templates were checked (or written around the admin) that the
    form would refuse now: a name they may not use renders empty, a syntax error fails them."""
    return [
        f"Notification rule {rule.pk} ({rule}): its {field.replace('_', ' ')} would be refused "
        f"now. {problem}"
        for rule in NotificationRule.objects.filter(active=True).order_by("pk")
        for field, problem in rule.template_problems().items()
    ]


def watch_silence() -> bool:
    """Email the managers once per silence. Returns whether an email went out."""
    last = silent_since()
    recipients = _manager_emails()
    if last is None or not recipients:
        return False
    try:
        with transaction.atomic():  # no email, no incident: the next run tries again
            SilenceIncident.objects.create(last_batch_at=last, recipients=", ".join(recipients))
            mail.send_mail(
                "LeadCRM: no CRS batch since " + f"{last:%Y-%m-%d %H:%M} UTC",
                _silence_warning(last) + "\nCRS sends credit alerts nightly: check the CRS host "
                "configuration and the webhook credentials.",
                None,
                recipients,
            )
    except IntegrityError:
        return False  # this silence was already reported
    return True


def _manager_emails() -> list[str]:
    """MANAGERS from the settings, else the active superusers with an email address."""
    emails = list(settings.MANAGERS)
    if not emails:
        superusers = get_user_model().objects.filter(is_active=True, is_superuser=True)
        emails = list(superusers.exclude(email="").values_list("email", flat=True))
    return emails


# --- Staff's work on alerts ---------------------------------------------------------------------

HANDLE_PERMISSION = "alerts.handle_alert"
SUGGESTIONS = 10  # leads suggested per kind of match


class NotAllowed(Exception):
    """The user may not do this; the message says why, for the person."""


def mark_handled(alerts: QuerySet, user, note: str = "") -> int:
    """Mark these alerts handled by `user` now, with a note. Returns how many were not handled
    yet: one conditional UPDATE, so of two officers marking the same alert the first one keeps
    it, and an alert handled once is never written over."""
    if not user.has_perm(HANDLE_PERMISSION):
        raise NotAllowed("Marking alerts handled needs the loan officer or lending manager role.")
    note = note.strip()
    if "\x00" in note:  # PostgreSQL text cannot hold it: refused here, not a 500 there
        raise ValueError("A note cannot contain a NUL character.")
    return Alert.objects.filter(pk__in=alerts.values("pk"), handled_at=None).update(
        handled_at=timezone.now(), handled_by=user, handled_note=note
    )


@dataclass(frozen=True)
class Suggestions:
    by_email: list[Lead]
    by_name: list[Lead]


def lead_suggestions(person: CRSUser) -> Suggestions:
    """Leads this CRS user may be, newest first: those with their email address (on the exact
    email index), then those with their first and last name (not already found by email)."""
    by_email = []
    if person.email.strip():
        by_email = list(_newest(Lead.objects.filter(email__iexact=person.email.strip())))
    found = {lead.pk for lead in by_email}
    return Suggestions(by_email, [lead for lead in _same_name(person.name) if lead.pk not in found])


def _same_name(name: str) -> list[Lead]:
    """Leads whose first name and last name are each a word of `name` (in any case or order:
    CRS may send "Lastnameson, Bob"). One word alone is too little to tell a person by."""
    words = {word.strip(",.;").lower() for word in name.split()} - {""}
    if len(words) < 2:
        return []
    named = Lead.objects.alias(
        search_text=LeadSearchText(), first=Lower("first_name"), last=Lower("last_name")
    ).filter(
        # The longest word goes to the search's trigram index (leads migration 0008); the names
        # are then compared whole on the few leads it finds.
        search_text__icontains=max(words, key=len),
        first__in=words,
        last__in=words,
    )
    return list(_newest(named))


def _newest(leads: QuerySet) -> QuerySet:
    return leads.order_by("-date_created").only(
        "name_of_business", "first_name", "last_name", "email", "status", "date_created"
    )[:SUGGESTIONS]
