"""CRS credit-alert notifications (docs/contract.md#7-crs-alert-intake), the batches they arrive
in, and who hears of them."""

import functools
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from leadcrm.deliveries import RawDelivery
from leads.models import Lead

from .templating import Record, available_names, template_problem


class AlertType(models.TextChoices):
    """CRS's documented types (docs/contract.md#crs-alert-types), labelled with their descriptions.
    CRS adds types without notice: a value outside this list is stored as sent."""

    ACCNEW = "ACCNEW", "New account created"
    IDFAIL = "IDFAIL", "Identity failed"
    ACCREG = "ACCREG", "Account registered"
    ACCREGFAIL = "ACCREGFAIL", "Account registration failed"
    ACCCLOSED = "ACCCLOSED", "Account closed"
    ACCLOCKED = "ACCLOCKED", "Account locked out"
    ACCLOGINFAIL = "ACCLOGINFAIL", "Login failure"
    ACCALERT = "ACCALERT", "Account alert (credit)"
    SCOREREF = "SCOREREF", "Score refreshed"
    REPORTREF = "REPORTREF", "Report refreshed"
    ERROR = "ERROR", "Error"
    TEST = "TEST", "Test"


class CRSUser(models.Model):
    """A credit-monitored person at CRS; staff link them to the lead they are."""

    id = models.UUIDField(primary_key=True, editable=False)  # CRS's user_id
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.SET_NULL, related_name="crs_users"
    )
    name = models.CharField(max_length=255, blank=True)
    email = models.EmailField(blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "CRS user"

    def __str__(self) -> str:
        return self.name or self.email or str(self.id)


class AlertDelivery(RawDelivery):
    """One authenticated CRS request, stored before its items are read."""

    class Outcome(models.TextChoices):
        RECEIVED = "received"  # stored raw; items not read yet (or the read failed)
        ANSWERED = "answered"  # items read, stored and answered
        REJECTED = "rejected"  # not JSON

    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RECEIVED)
    items = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)  # answered true

    class Meta:
        verbose_name_plural = "alert deliveries"
        ordering = ["-id"]
        indexes = [
            # The silence watch: when did the last batch arrive?
            models.Index(fields=["-received_at"], name="alert_delivery_received_idx"),
        ]

    def __str__(self) -> str:
        return f"Batch {self.pk} ({self.accepted}/{self.items})"


class Alert(models.Model):
    id = models.UUIDField(primary_key=True, editable=False)  # the notification ("hook") id
    delivery = models.ForeignKey(AlertDelivery, on_delete=models.PROTECT, related_name="alerts")
    type = models.CharField(max_length=32, blank=True, choices=AlertType.choices)
    user = models.ForeignKey(
        CRSUser, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts"
    )
    host_id = models.UUIDField(null=True, blank=True)
    time = models.DateTimeField(null=True, blank=True)  # sent as epoch seconds
    error_code = models.CharField(max_length=255, blank=True)
    error_msg = models.TextField(blank=True)
    alert_id = models.CharField(max_length=255, blank=True)
    alert_date = models.DateTimeField(null=True, blank=True)  # parsed leniently from …
    alert_date_sent = models.CharField(max_length=255, blank=True)  # … this, kept as sent
    alert_source = models.CharField(max_length=255, blank=True)
    extra = models.JSONField(default=dict, blank=True)  # keys CRS's documentation does not name
    problems = models.JSONField(default=list, blank=True)  # fields stored empty, and why
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)  # notifications done
    # Staff-owned (alerts.services.mark_handled): who dealt with the alert, when, and how.
    handled_at = models.DateTimeField(null=True, blank=True, editable=False)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    handled_note = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["-time"]
        permissions = [("handle_alert", "Can mark alerts handled")]
        indexes = [
            models.Index(fields=["type", "-time"], name="alert_type_time_idx"),
            models.Index(fields=["user", "-time"], name="alert_user_time_idx"),
            models.Index(fields=["-time"], name="alert_time_idx"),
            models.Index(fields=["alert_source"], name="alert_source_idx"),
            models.Index(fields=["host_id"], name="alert_host_idx"),
            models.Index(fields=["alert_id"], name="alert_alert_id_idx"),
            # The sweep: alerts whose notifications are not done yet.
            models.Index(
                fields=["received_at"], condition=Q(processed_at=None), name="alert_pending_idx"
            ),
            # The "Not handled" filter: the alerts nobody has dealt with yet, newest first.
            models.Index(
                fields=["-time"], condition=Q(handled_at=None), name="alert_unhandled_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display() or 'Alert'} {self.id}"


def notification_context(alert: Alert) -> dict:
    """All that a notification rule's templates see, as plain values. No model instance: through
    one, a template reaches the officer's account (password hash included), the lead's ownership
    demographics and every row related to them."""
    user = alert.user
    lead = user.lead if user else None
    type_label = alert.get_type_display() or alert.type
    return {
        "alert": Record(
            str(alert),
            id=str(alert.id),
            type=alert.type,
            type_label=type_label,
            time=alert.time,
            alert_date=alert.alert_date,
            alert_date_sent=alert.alert_date_sent,
            alert_source=alert.alert_source,
            alert_id=alert.alert_id,
            error_code=alert.error_code,
            error_msg=alert.error_msg,
        ),
        # Absent as before (None), so the starting rules' `{% if lead %}` reads the same.
        "user": Record(str(user), name=user.name, email=user.email) if user else None,
        "lead": _lead_record(lead) if lead else None,
        "type_label": type_label,
    }


def _lead_record(lead: Lead) -> Record:
    return Record(
        str(lead),
        id=str(lead.id),
        name_of_business=lead.name_of_business,
        first_name=lead.first_name,
        last_name=lead.last_name,
        status=lead.status,
    )


def template_samples() -> dict[str, dict]:
    """Contexts a rule is tried on before it is saved: an alert with every value, and one with
    none (no CRS user, so no lead; no dates), as CRS sends some."""
    when = datetime(2026, 11, 21, 4, tzinfo=UTC)
    lead = Lead(
        id=uuid.UUID(int=1),
        name_of_business="Example Bakery LLC",
        first_name="Pat",
        last_name="Example",
        status="Matched",
    )
    user = CRSUser(id=uuid.UUID(int=2), lead=lead, name="Pat Example", email="pat@example.com")
    typical = Alert(
        id=uuid.UUID(int=3),
        type=AlertType.ACCALERT,
        user=user,
        time=when,
        alert_date=when,
        alert_date_sent="2026-11-21T04:00:00Z",
        alert_source="Equifax",
        alert_id="A-1001",
        error_code="REG-104",
        error_msg="Unable to register user for credit data",
    )
    bare = Alert(id=uuid.UUID(int=4))
    return {
        "a typical alert": notification_context(typical),
        "an alert with no CRS user, lead or dates": notification_context(bare),
    }


def template_names() -> list[str]:
    """The names a rule's templates may use: `alert`, `alert.time`, …"""
    return available_names(next(iter(template_samples().values())))


TEMPLATE_FIELDS = ("subject_template", "body_template")
TEMPLATE_HELP = (
    "A Django template over plain values: alert, user, lead, type_label and their fields. "
    "{% include %}, {% extends %}, {% load %} and {% debug %} are not available."
)


class NotificationRule(models.Model):
    """Who hears of an alert type, and with which words. Edited by managers in the admin."""

    alert_type = models.CharField(
        max_length=32,
        choices=AlertType.choices,
        help_text="Any type name, including ones CRS adds later. TEST alerts never notify.",
    )
    active = models.BooleanField(default=True)
    notify_crs_user = models.BooleanField(
        default=False, help_text="The person at CRS (their email)."
    )
    notify_assigned_officer = models.BooleanField(
        default=False, help_text="The loan officer assigned to the lead this person is linked to."
    )
    addresses = models.CharField(
        max_length=1000, blank=True, help_text="More recipients, comma-separated."
    )
    subject_template = models.CharField(
        max_length=255,
        default="Credit alert: {{ type_label }}",
        help_text=TEMPLATE_HELP,
    )
    body_template = models.TextField(
        default=(
            "{{ type_label }} for {{ user }}{% if lead %} (lead: {{ lead }}){% endif %}.\n"
            "Reported {{ alert.alert_date|default:alert.time }}"
            "{% if alert.alert_source %} by {{ alert.alert_source }}{% endif %}.\n"
        ),
        help_text=TEMPLATE_HELP,
    )

    class Meta:
        ordering = ["alert_type"]

    def __str__(self) -> str:
        return f"{self.alert_type} rule"

    def clean(self) -> None:
        problems = self.template_problems()
        if problems:
            raise ValidationError(problems)

    def template_problems(self) -> dict[str, str]:
        """Why each template would be refused now, by field: the form shows these, and the health
        check names rules saved before they were checked."""
        found = {name: _template_problem(getattr(self, name)) for name in TEMPLATE_FIELDS}
        return {field: problem for field, problem in found.items() if problem}


@functools.lru_cache(maxsize=256)
def _template_problem(text: str) -> str | None:
    # The samples never change: each text is tried once per process, not at every health check.
    return template_problem(text, template_samples())


class Notification(models.Model):
    """One email about one alert to one recipient: attempts and outcome."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"  # claimed by one sender at claimed_at: nobody else sends it meanwhile
        SENT = "sent"
        FAILED = "failed"  # the mail server refused or did not answer: sent again by the sweep
        # The rule's template failed on this alert: never sent, made again when the rule is saved.
        TEMPLATE_ERROR = "template_error", "Template error"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    rule = models.ForeignKey(NotificationRule, null=True, on_delete=models.SET_NULL)
    recipient = models.EmailField()
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # A retried task finds the row it made, so nobody hears of an alert twice.
            models.UniqueConstraint(fields=["alert", "recipient"], name="notification_once_uniq"),
        ]
        indexes = [
            # The health check and a fixed rule's second try: the few rows a template failed on.
            models.Index(
                fields=["rule"],
                condition=Q(status="template_error"),
                name="notification_tpl_error_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Notification to {self.recipient} ({self.status})"


class SilenceIncident(models.Model):
    """No CRS batch for too long. One row per silence: the managers hear of it once."""

    last_batch_at = models.DateTimeField(unique=True)  # the batch the silence follows
    noticed_at = models.DateTimeField(auto_now_add=True)
    recipients = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"No CRS batch since {self.last_batch_at:%Y-%m-%d %H:%M}"
