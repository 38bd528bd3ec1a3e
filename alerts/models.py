"""CRS credit-alert notifications (seed 003), the batches they arrive in, and who hears of them."""

from django.db import models
from django.db.models import Q

from leadcrm.deliveries import RawDelivery


class AlertType(models.TextChoices):
    """The seed's types, labelled with its descriptions. CRS adds types without notice: a value
    outside this list is stored as sent."""

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
    extra = models.JSONField(default=dict, blank=True)  # keys the seed does not name
    problems = models.JSONField(default=list, blank=True)  # fields stored empty, and why
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)  # notifications done

    class Meta:
        ordering = ["-time"]
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
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display() or 'Alert'} {self.id}"


class NotificationRule(models.Model):
    """Who hears of an alert type, and with which words. Edited by managers in the admin."""

    alert_type = models.CharField(
        max_length=32, choices=AlertType.choices,
        help_text="Any type name, including ones CRS adds later. TEST alerts never notify.",
    )
    active = models.BooleanField(default=True)
    notify_crs_user = models.BooleanField(default=False, help_text="The person at CRS (their email).")
    notify_assigned_officer = models.BooleanField(
        default=False, help_text="The loan officer assigned to the lead this person is linked to."
    )
    addresses = models.CharField(
        max_length=1000, blank=True, help_text="More recipients, comma-separated."
    )
    subject_template = models.CharField(
        max_length=255, default="Credit alert: {{ type_label }}",
        help_text="Django template; context: alert, user, lead, type_label.",
    )
    body_template = models.TextField(
        default=(
            "{{ type_label }} for {{ user }}{% if lead %} (lead: {{ lead }}){% endif %}.\n"
            "Reported {{ alert.alert_date|default:alert.time }}"
            "{% if alert.alert_source %} by {{ alert.alert_source }}{% endif %}.\n"
        ),
        help_text="Django template; context: alert, user, lead, type_label.",
    )

    class Meta:
        ordering = ["alert_type"]

    def __str__(self) -> str:
        return f"{self.alert_type} rule"


class Notification(models.Model):
    """One email about one alert to one recipient: attempts and outcome."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    rule = models.ForeignKey(NotificationRule, null=True, on_delete=models.SET_NULL)
    recipient = models.EmailField()
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # A retried task finds the row it made, so nobody hears of an alert twice.
            models.UniqueConstraint(fields=["alert", "recipient"], name="notification_once_uniq"),
        ]


class SilenceIncident(models.Model):
    """No CRS batch for too long. One row per silence: the managers hear of it once."""

    last_batch_at = models.DateTimeField(unique=True)  # the batch the silence follows
    noticed_at = models.DateTimeField(auto_now_add=True)
    recipients = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"No CRS batch since {self.last_batch_at:%Y-%m-%d %H:%M}"

