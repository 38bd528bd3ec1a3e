"""Reading a CRF Connect lead (docs/contract.md#crf-fields) into model values, without touching
the database.

Only `id` and `status` are required (`InvalidLead` otherwise). Every other field is read
leniently: a value of the wrong type is stored empty and reported as a problem, an unknown enum
value is stored as sent and reported, and keys the schema does not name are kept in `extra`.
"""

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django.db import models

from leadcrm import jsonbody, lenient
from leadcrm.lenient import OUT_OF_RANGE, UNKNOWN_VALUE, Unreadable, expected, show
from leads import choices, firewall
from leads.models import Lead, Partner, Product, ProductSet

# CRF name (dotted for nested objects) → model field, in the schema's order.
LEAD_FIELDS: list[tuple[str, str]] = [
    ("id", "id"),
    ("submissionId", "submission_id"),
    ("duplicateId", "duplicate_id"),
    ("dateCreated", "date_created"),
    ("status", "status"),
    ("state", "state"),
    ("requestedAmount", "requested_amount"),
    ("useOfProceeds", "use_of_proceeds"),
    ("financeNeededBy", "finance_needed_by"),
    ("hasBusinessPlan", "has_business_plan"),
    ("collateralTypes", "collateral_types"),
    ("ownershipDemographicTypes", "ownership_demographic_types"),
    ("nameOfBusiness", "name_of_business"),
    ("businessAddress.line1", "address_line1"),
    ("businessAddress.line2", "address_line2"),
    ("businessAddress.city", "address_city"),
    ("businessAddress.state", "address_state"),
    ("businessAddress.zip", "address_zip"),
    ("businessAddress.county", "address_county"),
    ("yearsInBusiness", "years_in_business"),
    ("numEmployees", "num_employees"),
    ("industry", "industry"),
    ("businessType", "business_type"),
    ("revenueLastYear", "revenue_last_year"),
    ("revenueProjected", "revenue_projected"),
    ("netProfit", "net_profit"),
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("email", "email"),
    ("phone", "phone"),
    ("ficoScore", "fico_score"),
    ("priorBankruptcies", "prior_bankruptcies"),
    ("statistics.censusTract", "census_tract"),
    ("statistics.latitude", "latitude"),
    ("statistics.longitude", "longitude"),
    ("statistics.craEligibleTract", "cra_eligible_tract"),
    ("statistics.isCDFIInvestmentArea", "is_cdfi_investment_area"),
    ("howDidYouHear", "how_did_you_hear"),
    ("preferredContactTime", "preferred_contact_time"),
    ("preferredContactMethod", "preferred_contact_method"),
    ("funded.fundedAmount", "funded_amount"),
    ("funded.fundedInterestRate", "funded_interest_rate"),
    ("funded.fundedAPR", "funded_apr"),
    ("funded.fundedTermMonths", "funded_term_months"),
    ("funded.fundedAmortizationMonths", "funded_amortization_months"),
    ("funded.fundedDate", "funded_date"),
    ("willReceiveTechnicalAssistance", "will_receive_technical_assistance"),
    ("technicalAssistanceOptions", "technical_assistance_options"),
    ("disqualifiedReason", "disqualified_reason"),
    ("withdrawnReason", "withdrawn_reason"),
    ("otherReasonText", "other_reason_text"),
    ("leadOwner", "lead_owner"),
    ("fraudScore", "fraud_score"),
    ("ipAddress", "ip_address"),
]
PARTNER_FIELDS = [("id", "crf_id"), ("name", "name"), ("route", "route")]
PRODUCT_FIELDS = [
    ("id", "crf_id"),
    ("name", "name"),
    ("tags", "tags"),
    ("kind", "kind"),
    ("termRange.min", "term_min"),
    ("termRange.max", "term_max"),
    ("termRange.type", "term_type"),
    ("aprRange.min", "apr_min"),
    ("aprRange.max", "apr_max"),
    ("aprRange.type", "apr_type"),
    ("loanType", "loan_type"),
    ("collateralType", "collateral_type"),
    ("paymentFrequency", "payment_frequency"),
]
PRODUCT_SET_FIELDS = [("id", "crf_id"), ("name", "name")]
# Related objects: CRF key → (model, its fields, Lead foreign key).
RELATED = {
    "leadSource": (Partner, PARTNER_FIELDS, "lead_source"),
    "servicePartner": (Partner, PARTNER_FIELDS, "service_partner"),
    "matchedProduct": (Product, PRODUCT_FIELDS, "matched_product"),
    "productSet": (ProductSet, PRODUCT_SET_FIELDS, "product_set"),
}
# Lead foreign key → the model it points at.
RELATED_MODELS = {fk: model for model, _, fk in RELATED.values()}
RELATED_FOREIGN_KEYS = sorted(RELATED_MODELS)
# List fields whose items come from a lookup.
LIST_CHOICES = {
    "collateral_types": choices.CollateralType,
    "ownership_demographic_types": choices.OwnershipDemographic,
    "technical_assistance_options": choices.TechnicalAssistance,
}
FRAUD_SCORE_RANGE = (Decimal(0), Decimal(1))


class InvalidLead(Exception):
    """The body cannot be a lead at all: answered 400, kept as a rejected delivery."""

    def __init__(self, code: str, detail: str, fields: dict[str, str] | None = None):
        super().__init__(detail)
        self.code, self.detail, self.fields = code, detail, fields or {}


@dataclass
class Related:
    key: str  # "id:<uuid>", "route:<route>" or "name:<name>"
    values: dict[str, Any]


@dataclass
class ParsedLead:
    id: uuid.UUID
    status: str
    values: dict[str, Any]
    related: dict[str, Related | None]  # by Lead foreign key name
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)  # every one, for the answer

    def bookkeeping(self) -> dict[str, Any]:
        """The lead's `extra`, `data_problems` and `restricted`: what concerns the sensitive
        fields kept apart from what every officer sees."""
        return firewall.split(self.problems, self.extra)


def parse(body: bytes) -> ParsedLead:
    data, changes = _load_object(body)
    lead_id = _required_id(data)
    status = data.get("status")
    if not isinstance(status, str) or not status.strip():
        raise InvalidLead("missing_status", "The lead has no status.", {"status": "required"})
    if len(status) > Lead._meta.get_field("status").max_length:
        raise InvalidLead("invalid_status", "The lead status is too long.", {"status": "too long"})
    reader = _Reader(changes)
    values = reader.read(data, "", LEAD_FIELDS, Lead)
    related = {
        fk: reader.read_related(data, name, spec, model)
        for name, (model, spec, fk) in RELATED.items()
    }
    return ParsedLead(lead_id, status, values, related, reader.extra, reader.problems)


def _load_object(body: bytes) -> tuple[dict, list[jsonbody.Change]]:
    try:
        data, changes = jsonbody.load(body, exact=True)
    except (ValueError, RecursionError):
        raise InvalidLead("invalid_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidLead("not_an_object", "The body must be one JSON object: a lead.")
    return data, changes


def _required_id(data: dict) -> uuid.UUID:
    value = data.get("id")
    if value is None:
        raise InvalidLead("missing_id", "The lead has no id.", {"id": "required"})
    try:
        return lenient.uuid(value)
    except Unreadable:
        fields = {"id": "not a UUID"}
        raise InvalidLead("invalid_id", "The lead id is not a UUID.", fields) from None


class _Reader:
    """Reads fields into model values, collecting problems and unknown keys as it goes."""

    def __init__(self, changes: list[jsonbody.Change]):
        # What loading removed to make the body storable is a problem like any other.
        self.problems: list[lenient.Problem] = lenient.unstorable(changes)
        self.extra: dict[str, Any] = {}

    def read(self, data: dict, prefix: str, spec, model) -> dict[str, Any]:
        plan = _plan(model, tuple(spec))
        self._keep_unknown(data, prefix, plan.heads)
        containers: dict[str, dict] = {}
        values = {}
        for step in plan.steps:
            if step.child and step.head not in containers:
                containers[step.head] = self._container(data, step.head, prefix, plan.children)
            raw = containers[step.head].get(step.child) if step.child else data.get(step.head)
            values[step.name] = self._coerce(step, prefix, raw)
        return values

    def read_related(self, data: dict, name: str, spec, model) -> Related | None:
        obj = self._container(data, name, "", children={})
        values = self.read(obj, name + ".", spec, model) if obj else {}
        key = _related_key(values)
        return Related(key, values) if key else None

    def _container(self, data: dict, head: str, prefix: str, children: dict) -> dict:
        """A nested object; missing or null is empty, anything else is reported once."""
        node = data.get(head)
        if node is None:
            return {}
        if not isinstance(node, dict):
            self.problems.append(expected("an object", node).at(prefix + head))
            return {}
        if head in children:
            self._keep_unknown(node, f"{prefix}{head}.", children[head])
        return node

    def _keep_unknown(self, data: dict, prefix: str, known: frozenset[str]) -> None:
        for key, value in data.items():
            if key not in known and not (prefix == "" and key in RELATED):
                self.extra[prefix + key] = jsonbody.plain(value)

    def _coerce(self, step: "_Step", prefix: str, value: Any) -> Any:
        if value is None:
            return step.empty_value()
        try:
            result = step.coerce(value)
        except Unreadable as exc:
            self.problems.append(exc.at(prefix + step.path))
            return step.empty_value()
        if step.known is not None:
            for item in result if step.is_list else (result,):
                if item and item not in step.known:
                    detail = f"{show(item)} is not a known value; kept as sent"
                    problem = lenient.problem(prefix + step.path, UNKNOWN_VALUE, detail)
                    self.problems.append(problem)
        return result


@dataclass(frozen=True)
class _Step:
    """How to read one field of a spec; worked out once per spec (see `_plan`)."""

    path: str
    head: str
    child: str
    name: str
    coerce: Callable[[Any], Any]  # the value as the column holds it, or Unreadable
    is_list: bool
    empty: Any  # stored for a missing or unreadable value
    known: frozenset[str] | None  # an enum's lookup values; None: any value

    def empty_value(self) -> Any:
        return [] if self.empty == [] else self.empty  # a list of its own for each lead


@dataclass(frozen=True)
class _Plan:
    steps: tuple[_Step, ...]
    heads: frozenset[str]  # top-level keys the spec names
    children: dict[str, frozenset[str]]  # nested object → the keys the spec names in it


@functools.cache
def _plan(model, spec: tuple) -> _Plan:
    steps = []
    for path, name in spec:
        head, _, child = path.partition(".")
        model_field = model._meta.get_field(name)
        is_list = isinstance(model_field, models.JSONField)
        empty = None if model_field.null else ([] if is_list else "")
        steps.append(
            _Step(
                path,
                head,
                child,
                name,
                _coercer(model_field),
                is_list,
                empty,
                _known_values(model_field),
            )
        )
    children: dict[str, set[str]] = {}
    for step in steps:
        if step.child:
            children.setdefault(step.head, set()).add(step.child)
    return _Plan(
        tuple(steps),
        frozenset(s.head for s in steps),
        {head: frozenset(keys) for head, keys in children.items()},
    )


def _known_values(model_field) -> frozenset[str] | None:
    """The lookup values of an enum field (a list field's items); None for any other field."""
    lookup = LIST_CHOICES.get(model_field.name)
    if lookup:
        return frozenset(lookup.values)
    return frozenset(value for value, _ in model_field.flatchoices) if model_field.choices else None


def _related_key(values: dict) -> str:
    for part in ("crf_id", "route", "name"):
        if values.get(part):
            return f"{part.removeprefix('crf_')}:{values[part]}"
    return ""


def _coercer(model_field) -> Callable[[Any], Any]:
    """The reader of one field's values, with the field's limits worked out once."""
    kind = model_field.get_internal_type()
    if kind in ("CharField", "TextField"):
        return functools.partial(lenient.text, limit=model_field.max_length)
    if kind == "DecimalField":
        return _decimal(model_field)
    return _READERS[kind]


def _decimal(model_field) -> Callable[[Any], Decimal]:
    quantum = Decimal(1).scaleb(-model_field.decimal_places)  # 0.01 for two places
    # Rounded to its places, a number has more digits than the column holds from this on.
    too_large = Decimal(10) ** (model_field.max_digits - model_field.decimal_places)
    low, high = FRAUD_SCORE_RANGE if model_field.name == "fraud_score" else (None, None)

    def read(value) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise expected("a number", value)
        try:
            number = Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN)
        except InvalidOperation:
            raise expected("a number in range", value) from None
        if not abs(number) < too_large:
            raise lenient.out_of_range(value)
        if low is not None and not low <= number <= high:
            raise Unreadable(f"{show(value)} is outside 0–1", OUT_OF_RANGE)
        return number

    return read


def _integer(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise expected("a whole number", value)
    if isinstance(value, Decimal) and value != value.to_integral_value():
        raise expected("a whole number", value)
    if not -(2**31) <= value < 2**31:
        raise lenient.out_of_range(value)
    return int(value)


def _boolean(value) -> bool:
    if not isinstance(value, bool):
        raise expected("true or false", value)
    return value


def _string_list(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str | None) for v in value):
        raise expected("a list of strings", value)
    return [v for v in value if v is not None]


_READERS = {
    "IntegerField": _integer,
    "BooleanField": _boolean,
    "DateTimeField": lenient.iso_datetime,
    "UUIDField": lenient.uuid,
    "JSONField": _string_list,
}
