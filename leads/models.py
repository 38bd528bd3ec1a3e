"""CRF Connect leads. Field names are the snake_case of the CRF names
(docs/contract.md#field-naming).

CRF is the source of truth for every field below except the timestamps of our own; the rows
change only through `leads.services`.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from leadcrm.deliveries import RawDelivery

from . import choices, firewall


def _enum(choice_class, **kwargs) -> models.CharField:
    # Unknown values are stored as sent: `choices` labels the known ones, it does not restrict.
    return models.CharField(max_length=64, blank=True, choices=choice_class.choices, **kwargs)


def _text(max_length: int = 255) -> models.CharField:
    return models.CharField(max_length=max_length, blank=True)


def _money() -> models.DecimalField:
    return models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)


def _rate() -> models.DecimalField:
    return models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)


class CRFKeyed(models.Model):
    """A partner, product or product set, keyed by its CRF id (by route, then name, when null)."""

    crf_key = models.CharField(max_length=300, unique=True, editable=False)
    crf_id = models.UUIDField(null=True, blank=True, editable=False)
    name = _text()
    # Id of the newest delivery these values came from: an older one never overwrites them.
    source_delivery_id = models.BigIntegerField(default=0, editable=False)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name or self.crf_key


class Partner(CRFKeyed):
    """A `leadSource` or `servicePartner` organisation."""

    route = _text()

    class Meta:
        ordering = ["name"]


class Product(CRFKeyed):
    """A lender product a lead was matched to (`matchedProduct`)."""

    tags = models.JSONField(default=list, blank=True)
    kind = _text(64)
    term_min = models.IntegerField(null=True, blank=True)
    term_max = models.IntegerField(null=True, blank=True)
    term_type = _text(64)
    apr_min = _rate()
    apr_max = _rate()
    apr_type = _text(64)
    loan_type = _text(64)
    collateral_type = _text(64)
    payment_frequency = _text(64)

    class Meta:
        ordering = ["name"]


class ProductSet(CRFKeyed):
    class Meta:
        ordering = ["name"]


# A lead with data problems, those about a sensitive field included (leads.firewall): the "Has
# data problems" filter for who may see them, served by lead_any_problems_idx.
ANY_PROBLEMS = ~Q(data_problems=[]) | Q(restricted__has_key=firewall.RESTRICTED_PROBLEMS)

# A lead still in play: the lender has not closed it, and CRF has not removed it.
OPEN = Q(status__in=choices.OPEN_STATUSES) & ~Q(state=choices.State.REMOVED)

# What the lead list's search reads, as one text: one trigram index (migration 0008) serves
# every word of a search, where an index per field took five scans a word.
LEAD_SEARCH_FIELDS = ["name_of_business", "first_name", "last_name", "email", "phone"]


class LeadSearchText(models.Func):
    template = "(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = models.TextField()

    def __init__(self):
        super().__init__(*[models.F(name) for name in LEAD_SEARCH_FIELDS])


class Lead(models.Model):
    id = models.UUIDField(primary_key=True, editable=False)  # CRF's lead id
    submission_id = models.UUIDField(null=True, blank=True)
    duplicate_id = _text(128)
    date_created = models.DateTimeField(null=True, blank=True)
    status = _enum(choices.Status)
    state = _enum(choices.State)
    requested_amount = _money()
    use_of_proceeds = _enum(choices.UseOfProceeds)
    finance_needed_by = _enum(choices.FinanceNeededBy)
    has_business_plan = models.BooleanField(null=True, blank=True)
    collateral_types = models.JSONField(default=list, blank=True)
    ownership_demographic_types = models.JSONField(default=list, blank=True)
    name_of_business = _text()
    address_line1 = _text()
    address_line2 = _text()
    address_city = _text(128)
    address_state = _text(64)
    address_zip = _text(32)
    address_county = _text(128)
    years_in_business = _enum(choices.YearsInBusiness)
    num_employees = models.IntegerField(null=True, blank=True)
    industry = _enum(choices.Industry)
    business_type = _enum(choices.BusinessType)
    revenue_last_year = _enum(choices.Revenue)
    revenue_projected = _enum(choices.Revenue)
    net_profit = _money()
    first_name = _text(128)
    last_name = _text(128)
    email = _text(254)
    phone = _text(64)
    fico_score = _enum(choices.FicoScore)
    prior_bankruptcies = _enum(choices.PriorBankruptcies)
    census_tract = _text(32)
    latitude = models.DecimalField(max_digits=10, decimal_places=7, null=True, blank=True)
    longitude = models.DecimalField(max_digits=10, decimal_places=7, null=True, blank=True)
    cra_eligible_tract = models.BooleanField(null=True, blank=True)
    is_cdfi_investment_area = models.BooleanField(null=True, blank=True)
    how_did_you_hear = _enum(choices.HowDidYouHear)
    preferred_contact_time = _enum(choices.ContactTime)
    preferred_contact_method = _enum(choices.ContactMethod)
    funded_amount = _money()
    funded_interest_rate = _rate()
    funded_apr = _rate()
    funded_term_months = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    funded_amortization_months = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True
    )
    funded_date = models.DateTimeField(null=True, blank=True)
    will_receive_technical_assistance = models.BooleanField(null=True, blank=True)
    technical_assistance_options = models.JSONField(default=list, blank=True)
    disqualified_reason = _enum(choices.DisqualifiedReason)
    withdrawn_reason = _enum(choices.WithdrawnReason)
    other_reason_text = models.TextField(blank=True)
    lead_source = models.ForeignKey(
        Partner,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sourced_leads",
        db_index=False,  # covered by the (field, -date_created) index
    )
    service_partner = models.ForeignKey(
        Partner,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="serviced_leads",
        db_index=False,  # covered by the (field, -date_created) index
    )
    lead_owner = _text()
    matched_product = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        db_index=False,  # covered by lead_product_created_idx
    )
    product_set = models.ForeignKey(
        ProductSet,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        db_index=False,  # covered by the (field, -date_created) index
    )
    fraud_score = models.DecimalField(max_digits=6, decimal_places=5, null=True, blank=True)
    ip_address = _text(64)

    # Staff-owned: CRF never writes these.
    assigned_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_leads",
        db_index=False,  # covered by lead_officer_created_idx
    )
    # Speed to lead (leads.ownership): when an officer first logged a contact or set Contacted or
    # beyond, and the next action an officer planned (the soonest open follow-up).
    first_contact_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_action_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The newest disposition staff recorded (leads.dispositions): the lender's truth beside CRF's
    # `status`, neither overwriting the other.
    disposition = models.ForeignKey(
        "Disposition",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    # Keys CRF sent that the schema does not name, kept as they came.
    extra = models.JSONField(default=dict, blank=True)
    # Problems found in the newest delivery (wrong types, unknown values): see leads.crf.
    data_problems = models.JSONField(default=list, blank=True)
    # The problems and unknown keys that concern a sensitive field, apart from the two above:
    # {"problems": [...], "extra": {...}}, shown only with the permission (leads.firewall).
    restricted = models.JSONField(default=dict, blank=True, editable=False)
    applied_delivery = models.ForeignKey(
        "LeadDelivery",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date_created"]
        permissions = [
            ("export_lead", "Can export leads as CSV"),
            ("assign_lead", "Can assign leads to loan officers"),
            # The fair-lending firewall: ownership demographics stay away from credit decisions.
            ("view_demographics", "Can see ownership demographics"),
            ("reassign_lead", "Can assign leads to any officer and take a colleague's"),
        ]
        indexes = [
            # The admin list: newest first, alone or within one filter value.
            models.Index(fields=["-date_created"], name="lead_created_idx"),
            models.Index(fields=["status", "-date_created"], name="lead_status_created_idx"),
            models.Index(fields=["state", "-date_created"], name="lead_state_created_idx"),
            models.Index(
                fields=["address_state", "-date_created"], name="lead_addr_state_created_idx"
            ),
            models.Index(
                fields=["matched_product", "-date_created"], name="lead_product_created_idx"
            ),
            # Fraud bands are ranges.
            models.Index(fields=["fraud_score"], name="lead_fraud_idx"),
            # "Possible duplicates": other leads with the same duplicateId; exact-id search.
            models.Index(fields=["duplicate_id"], name="lead_duplicate_idx"),
            models.Index(fields=["submission_id"], name="lead_submission_idx"),
            # A pasted email address or phone number finds its lead at once; parts of them go to
            # the trigram indexes (migration 0006), slow for a whole address among a million.
            models.Index(Upper("email"), name="lead_email_exact_idx"),
            models.Index(fields=["phone"], name="lead_phone_idx"),
            # Every other list filter, newest first within the value.
            *[
                models.Index(fields=[field, "-date_created"], name=f"lead_{short}_created_idx")
                for field, short in [
                    ("lead_source", "source"),
                    ("service_partner", "partner"),
                    ("product_set", "productset"),
                    ("assigned_officer", "officer"),
                    ("industry", "industry"),
                    ("fico_score", "fico"),
                    ("use_of_proceeds", "proceeds"),
                    ("years_in_business", "years"),
                    ("cra_eligible_tract", "cra"),
                    ("is_cdfi_investment_area", "cdfi"),
                ]
            ],
            # Speed to lead: open leads nobody has contacted yet, oldest first ("Untouched",
            # "Overdue first contact", the worklist), and follow-ups by date.
            models.Index(
                fields=["date_created"],
                condition=Q(first_contact_at=None) & OPEN,
                name="lead_untouched_idx",
            ),
            models.Index(
                fields=["assigned_officer", "date_created"],
                condition=Q(first_contact_at=None) & OPEN,
                name="lead_officer_untouched_idx",
            ),
            models.Index(
                fields=["next_action_at"],
                condition=Q(next_action_at__isnull=False),
                name="lead_next_action_idx",
            ),
            # The team's open leads per officer; unassigned open leads, oldest first.
            models.Index(fields=["assigned_officer"], condition=OPEN, name="lead_officer_open_idx"),
            models.Index(
                fields=["date_created"],
                condition=OPEN & Q(assigned_officer=None),
                name="lead_unassigned_idx",
            ),
            models.Index(
                fields=["assigned_officer", "next_action_at"],
                condition=Q(next_action_at__isnull=False),
                name="lead_officer_next_action_idx",
            ),
            # "Has data problems": the few leads CRF sent something odd for.
            models.Index(
                fields=["-date_created"], condition=~Q(data_problems=[]), name="lead_problems_idx"
            ),
            # … and, for who may see them, with problems about a sensitive field too.
            models.Index(
                fields=["-date_created"], condition=ANY_PROBLEMS, name="lead_any_problems_idx"
            ),
        ]

    def __str__(self) -> str:
        return (
            self.name_of_business or f"{self.first_name} {self.last_name}".strip() or str(self.id)
        )

    @property
    def is_removed(self) -> bool:
        return self.state == choices.State.REMOVED

    @property
    def is_open(self) -> bool:
        """Still worked: the same test as OPEN, in Python."""
        return self.status in choices.OPEN_STATUSES and not self.is_removed

    @property
    def is_overdue(self) -> bool:
        """Open, never contacted, and older than LEAD_FIRST_CONTACT_HOURS."""
        if not self.is_open or self.first_contact_at is not None or self.date_created is None:
            return False
        limit = timedelta(hours=settings.LEAD_FIRST_CONTACT_HOURS)
        return timezone.now() - self.date_created > limit


class LeadDelivery(RawDelivery):
    """One authenticated CRF request (or pulled message), stored before anything else happens."""

    # No database constraint: a delivery is stored before its lead exists (and when rejected,
    # without one). No index of its own: delivery_lead_body_uniq starts with it, and every
    # delivery stored would update both.
    lead = models.ForeignKey(
        Lead,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="deliveries",
    )
    body_sha256 = models.CharField(max_length=64, editable=False)
    source = models.CharField(
        max_length=16,
        choices=choices.DeliverySource.choices,
        default=choices.DeliverySource.WEBHOOK,
    )
    status = _text(64)  # the lead status this delivery carries: the history is built from it
    outcome = models.CharField(
        max_length=16,
        choices=choices.DeliveryOutcome.choices,
        default=choices.DeliveryOutcome.PENDING,
    )
    warnings = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a task to process the lead was published for this delivery, until the task is done
    # with it (processed or failed): the sweep queues only deliveries not queued already, or
    # queued so long ago that the message must be lost (settings.LEAD_REQUEUE_SECONDS).
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The Azure queue message this delivery was pulled from (leads.pull.queue). Null, not "", for
    # every other source: nulls never collide in the unique constraint below. Azure's ids are
    # GUIDs; the room is so that an id longer than that is stored, not a message stuck in the queue.
    queue_message_id = models.CharField(  # noqa: DJ001
        max_length=255, null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name_plural = "lead deliveries"
        ordering = ["-id"]
        constraints = [
            # An identical re-delivery (same lead, same bytes) is acknowledged, not stored again.
            models.UniqueConstraint(fields=["lead", "body_sha256"], name="delivery_lead_body_uniq"),
            # A queue message taken again after a crash between its commit and its deletion is
            # stored once, even when it was rejected (no lead to tell the two copies apart by).
            # Not scoped by source: only queue messages carry an id, and Azure's GUIDs do not
            # repeat across queues. Partial, so the many webhook rows (null) stay out of the index.
            models.UniqueConstraint(
                fields=["queue_message_id"],
                condition=Q(queue_message_id__isnull=False),
                name="delivery_queue_message_uniq",
            ),
        ]
        indexes = [
            # /healthz/: deliveries still waiting, oldest first.
            models.Index(
                fields=["received_at"], condition=Q(outcome="pending"), name="delivery_pending_idx"
            ),
            # The sweep: failed deliveries whose next attempt is due.
            models.Index(
                fields=["next_attempt_at"], condition=Q(outcome="failed"), name="delivery_retry_idx"
            ),
            # The sweep: pending deliveries not queued (queued_at IS NULL) or queued long ago,
            # without reading the many a backlog keeps waiting in the queue.
            models.Index(
                fields=["queued_at"], condition=Q(outcome="pending"), name="delivery_unqueued_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.outcome})"


class StatusChange(models.Model):
    """A lead's status history, one row per delivery that changed the status, in receipt order."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="status_changes")
    delivery = models.OneToOneField(
        LeadDelivery, on_delete=models.CASCADE, related_name="status_change"
    )
    from_status = _text(64)
    to_status = _text(64)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["delivery_id"]
        indexes = [models.Index(fields=["lead", "delivery"], name="status_change_lead_idx")]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"


class PullRun(models.Model):
    """One pull from an Azure Storage queue or blob container (`leads.pull`)."""

    source = models.CharField(
        max_length=16,
        choices=[
            (source.value, source.label)
            for source in (choices.DeliverySource.AZURE_QUEUE, choices.DeliverySource.AZURE_BLOB)
        ],
    )
    target = _text(300)  # "account/queue" or "account/container": never the SAS
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)  # empty: running, or the puller died
    taken = models.PositiveIntegerField(default=0, help_text="New deliveries stored.")
    duplicates = models.PositiveIntegerField(
        default=0, help_text="Leads already stored: a message or blob that came back."
    )
    rejected = models.PositiveIntegerField(
        default=0, help_text="Kept as rejected deliveries: not a lead, undecodable, or poison."
    )
    failed = models.PositiveIntegerField(
        default=0, help_text="Left in Azure for a later run: storing them failed."
    )
    pending = models.IntegerField(
        null=True,
        blank=True,
        help_text="Left in the source when the run ended (approximate for a queue).",
    )
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # The admin list, newest first, and the pruning of old runs.
            models.Index(fields=["-started_at"], name="pull_run_started_idx"),
            # The admin summary and /healthz/: the newest run of each source.
            models.Index(fields=["source", "-started_at"], name="pull_run_source_started_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} pull at {self.started_at:%Y-%m-%d %H:%M:%S}"


class PulledBlob(models.Model):
    """The blob ledger: each blob version (name + ETag) taken from a container, so that none is
    taken twice, whether or not blobs are deleted after they are taken."""

    container = models.CharField(max_length=300)  # "account/container": never the SAS
    name = models.CharField(max_length=1024)
    etag = models.CharField(max_length=64)
    leads = models.PositiveIntegerField(default=0, help_text="Deliveries stored from it.")
    taken_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True)  # removed from the container

    class Meta:
        ordering = ["-taken_at"]
        constraints = [
            # Decides between two pullers: the second one's claim fails and rolls its work back.
            # Its index also serves the per-page lookup (container, name IN …).
            models.UniqueConstraint(fields=["container", "name", "etag"], name="pulled_blob_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class LeadNote(models.Model):
    """Staff-owned: what a loan officer wrote about a lead."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="lead_notes"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    text = models.TextField()

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["lead", "created_at"], name="lead_note_lead_idx")]

    def __str__(self) -> str:
        return f"Note by {self.author} on {self.created_at:%Y-%m-%d}"


class ExportLog(models.Model):
    """One row per CSV export: who, when, which filters, how many rows. Managers read it."""

    class Source(models.TextChoices):
        SELECTED = "selected", "Admin: selected leads"
        LIST = "list", "Admin: the filtered list"
        COMMAND = "command", "export_leads command"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lead_exports",
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    filters = models.JSONField(default=dict, blank=True)
    with_demographics = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows = models.PositiveIntegerField(null=True, blank=True)  # set when the stream ends

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Export by {self.user or 'the shell'} at {self.started_at:%Y-%m-%d %H:%M}"


class Disposition(models.Model):
    """A status staff set on a lead, and the write-back that takes it to CRF: the history entry and
    the outbox row in one, committed in the same transaction (docs/contract.md#16-dispositions)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="dispositions")
    status = models.CharField(max_length=16, choices=choices.LenderStatus.choices)
    # Exactly what is POSTed to CRF's Lead Management API (its LeadUpdateModel).
    body = models.JSONField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="dispositions",
    )
    source = models.CharField(
        max_length=16,
        choices=choices.DispositionSource.choices,
        default=choices.DispositionSource.PAGE,
    )
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=choices.WriteBack.choices)
    attempts = models.PositiveIntegerField(default=0)
    # Pending: when the next attempt is due. Sending: when the sender claimed it.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The last attempt's outcome in words, and CRF's ProblemDetails when it answered with one.
    error = models.TextField(blank=True)
    problem = models.JSONField(default=dict, blank=True)
    # An attempt may have reached CRF without an answer (a timeout, a sender that died): the next
    # one reads the lead back before posting again, so that CRF never gets it twice.
    uncertain = models.BooleanField(default=False)
    # CRF shows this status: seen in its lead update, or read back with GET ?leadId=.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.CharField(max_length=16, blank=True, choices=choices.Confirmation.choices)
    # The last read-back: the status CRF answered and when.
    crf_status = models.CharField(max_length=64, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "write-back to CRF"
        verbose_name_plural = "write-backs to CRF"
        permissions = [("resend_disposition", "Can resend write-backs to CRF")]
        indexes = [
            # A lead's dispositions in order: its timeline, and the head of its outbox.
            models.Index(fields=["lead", "id"], name="disposition_lead_idx"),
            # The sweep: write-backs waiting or in flight (few, however long the history).
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["pending", "sending"]),
                name="disposition_outbox_idx",
            ),
            # The managers' "needs attention" list and the reconcile command.
            models.Index(
                fields=["-id"],
                condition=Q(state="failed") | Q(state="sent", confirmed_at=None),
                name="disposition_attention_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status} ({self.get_state_display().lower()})"

    @property
    def awaiting_confirmation(self) -> bool:
        return self.confirmed_at is None and self.state in (
            choices.WriteBack.PENDING,
            choices.WriteBack.SENDING,
            choices.WriteBack.SENT,
        )


class LeadAssignment(models.Model):
    """Who a lead was given to, from whom, when, and by whom (a person) or by which routing rule."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    from_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.ForeignKey(
        "RoutingRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["lead", "id"], name="assignment_lead_idx")]

    def __str__(self) -> str:
        return f"{self.from_officer or 'nobody'} → {self.to_officer or 'nobody'}"


class RoutingRule(models.Model):
    """Managers' rules: a new lead goes to the first active rule it matches, in `position` order,
    round-robin among the rule's active officers. Empty conditions match anything."""

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=0, help_text="Lower comes first.")
    active = models.BooleanField(default=True)
    matched_product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    product_set = models.ForeignKey(
        ProductSet, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    service_partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead_source = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    business_state = models.CharField(
        max_length=64, blank=True, help_text="Two-letter state of the business address, e.g. MN."
    )
    min_amount = _money()
    max_amount = _money()
    officers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="routing_rules")
    # How many leads the rule has given out: the next goes to officer number `turns % pool`.
    # Taken under the rule's row lock, in PostgreSQL: two workers never give the same turn.
    turns = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Activity(models.Model):
    """A call, email or meeting an officer logged, with its outcome and the next action."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=16, choices=choices.ActivityKind.choices)
    outcome = models.CharField(max_length=32, choices=choices.ActivityOutcome.choices)
    note = models.TextField(blank=True)
    next_action_at = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="activities"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "activities"
        indexes = [models.Index(fields=["lead", "id"], name="activity_lead_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.get_outcome_display()}"


class DigestSent(models.Model):
    """One morning digest per officer per day, whoever sends it."""

    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)
    leads = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["officer", "day"], name="digest_officer_day_uniq")
        ]

    def __str__(self) -> str:
        return f"Digest for {self.officer} on {self.day}"
