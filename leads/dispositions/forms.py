"""What an officer (or a lender's loan-origination system) may tell CRF about a lead, checked
against CRF's LeadUpdateModel before anything is stored. Field names are CRF's: the lead page's
form and the CSV import's headers are the same names, validated by the same form."""

from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from leads.choices import DisqualifiedReason, LenderStatus, TechnicalAssistance, WithdrawnReason

FUNDED = LenderStatus.FUNDED
# The funding terms CRF takes with Funded; the first four are required with it.
FUNDING_TERMS = [
    "fundedDate",
    "fundedAmount",
    "fundedInterestRate",
    "fundedTermMonths",
    "fundedAPR",
    "fundedAmortizationMonths",
]
REQUIRED_TERMS = FUNDING_TERMS[:4]
REASONS = {
    LenderStatus.DISQUALIFIED: "disqualifiedReason",
    LenderStatus.WITHDRAWN: "withdrawnReason",
}
OTHER = "Other"


def _percent(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        max_digits=7,
        decimal_places=4,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="Percent, e.g. 7.25",
    )


def _months(label: str) -> forms.IntegerField:
    return forms.IntegerField(label=label, required=False, min_value=1, max_value=600)


class DispositionForm(forms.Form):
    status = forms.ChoiceField(
        label="New status", choices=[("", "— choose —"), *LenderStatus.choices]
    )
    fundedDate = forms.DateField(
        label="Funded on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    fundedAmount = forms.DecimalField(
        label="Funded amount ($)",
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
    )
    fundedInterestRate = _percent("Interest rate (%)")
    fundedTermMonths = _months("Term (months)")
    fundedAPR = _percent("APR (%)")
    fundedAmortizationMonths = _months("Amortization (months)")
    disqualifiedReason = forms.ChoiceField(
        label="Disqualified because",
        required=False,
        choices=[("", "—")] + DisqualifiedReason.choices,
    )
    withdrawnReason = forms.ChoiceField(
        label="Withdrawn because",
        required=False,
        choices=[("", "—")] + WithdrawnReason.choices,
    )
    additionalInfo = forms.CharField(
        label="Additional information",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Required when the reason is Other.",
    )
    willReceiveTechnicalAssistance = forms.NullBooleanField(
        label="Will receive technical assistance",
        required=False,
        widget=forms.Select(choices=[("", "—"), ("true", "Yes"), ("false", "No")]),
    )
    technicalAssistanceOptions = forms.MultipleChoiceField(
        label="Technical assistance",
        required=False,
        choices=TechnicalAssistance.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean_additionalInfo(self):
        text = self.cleaned_data["additionalInfo"].strip()
        if "\x00" in text:
            raise forms.ValidationError("Additional information cannot contain a NUL character.")
        return text

    def clean(self):
        data = super().clean()
        status = data.get("status")
        if status is None:
            return data
        if status == FUNDED:
            for name in REQUIRED_TERMS:
                if data.get(name) in (None, ""):
                    label = self.fields[name].label
                    self.add_error(name, f"{label} is required when the lead is Funded.")
        else:
            for name in FUNDING_TERMS:
                if data.get(name) not in (None, ""):
                    self.add_error(name, "Funding terms go with Funded only.")
        reason_field = REASONS.get(status)
        for name in REASONS.values():
            if name != reason_field and data.get(name):
                self.add_error(name, f"This reason goes with {_status_of(name)} only.")
        if reason_field and not data.get(reason_field):
            self.add_error(reason_field, f"Say why the lead is {status}.")
        if reason_field and data.get(reason_field) == OTHER and not data.get("additionalInfo"):
            self.add_error("additionalInfo", "Describe the reason: it is Other.")
        options = data.get("technicalAssistanceOptions")
        if options and data.get("willReceiveTechnicalAssistance") is False:
            self.add_error(
                "technicalAssistanceOptions",
                "Technical assistance options need “Will receive technical assistance”: Yes.",
            )
        return data

    def body(self, lead_id) -> dict:
        """The request body CRF's LeadUpdateModel takes: the lead, its status, and only what
        goes with that status."""
        data = self.cleaned_data
        body = {"id": str(lead_id), "status": data["status"]}
        if data["status"] == FUNDED:
            for name in FUNDING_TERMS:
                value = data.get(name)
                if value is None:
                    continue
                if name == "fundedDate":
                    body[name] = value.isoformat()
                elif isinstance(value, Decimal):
                    body[name] = float(value)
                else:
                    body[name] = value
        reason_field = REASONS.get(data["status"])
        if reason_field:
            body[reason_field] = data[reason_field]
        if data.get("additionalInfo"):
            body["additionalInfo"] = data["additionalInfo"]
        if data.get("willReceiveTechnicalAssistance") is not None:
            body["willReceiveTechnicalAssistance"] = data["willReceiveTechnicalAssistance"]
        if data.get("technicalAssistanceOptions"):
            body["technicalAssistanceOptions"] = data["technicalAssistanceOptions"]
            body["willReceiveTechnicalAssistance"] = True
        return body


def _status_of(reason_field: str) -> str:
    return next(status for status, name in REASONS.items() if name == reason_field)


def describe(body: dict) -> str:
    """A disposition's body in words, for the timeline and the lists."""
    parts = [body.get("status", "")]
    if "fundedAmount" in body:
        parts.append(f"${Decimal(str(body['fundedAmount'])):,.2f}")
    for name in ("fundedInterestRate", "fundedAPR"):
        if name in body:
            parts.append(f"{'APR' if name == 'fundedAPR' else 'rate'} {body[name]}%")
    if "fundedTermMonths" in body:
        parts.append(f"{body['fundedTermMonths']} months")
    if "fundedDate" in body:
        parts.append(f"on {body['fundedDate']}")
    for name, choice in (
        ("disqualifiedReason", DisqualifiedReason),
        ("withdrawnReason", WithdrawnReason),
    ):
        if name in body:
            parts.append(_label(choice, body[name]))
    if body.get("additionalInfo"):
        parts.append(f"“{body['additionalInfo']}”")
    if body.get("technicalAssistanceOptions"):
        labels = [_label(TechnicalAssistance, v) for v in body["technicalAssistanceOptions"]]
        parts.append("technical assistance: " + ", ".join(labels))
    return " · ".join(part for part in parts if part)


def _label(choice, value: str) -> str:
    try:
        return str(choice(value).label)
    except ValueError:
        return value
