"""Generated CRF Connect leads for demos: plausible, and only known values
(docs/contract.md#crf-fields).

`deliveries()` yields what CRF would send, in the order it would send it: each lead's first
delivery at its `dateCreated`, and for a share of leads later deliveries of the same lead (lead
updates) as its status moves along Matched → Reviewed → Contacted → Qualified → Funded, or ends
Disqualified or Withdrawn. Everything random comes from one seeded Faker, so a seed repeats a run.
Generating touches no database; `seed` (what `manage.py seed_demo` asks this app for) stores the
deliveries through the bulk intake.
"""

import base64
import functools
import hashlib
import heapq
import itertools
import json
import math
import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random

from django.core.management.base import CommandError
from django.db import connection, connections, models
from django.utils import timezone
from faker import Faker
from tqdm import tqdm

from .choices import (
    BusinessType,
    CollateralType,
    ContactMethod,
    ContactTime,
    DeliverySource,
    DisqualifiedReason,
    FicoScore,
    FinanceNeededBy,
    HowDidYouHear,
    Industry,
    OwnershipDemographic,
    PriorBankruptcies,
    Revenue,
    State,
    Status,
    TechnicalAssistance,
    UseOfProceeds,
    WithdrawnReason,
    YearsInBusiness,
)
from .intake import bulk
from .models import Lead

HISTORY_WEEKS = 16
UPDATE_SHARE = 0.3  # leads that also get lead updates (later deliveries, status advanced)
SIBLING_SHARE = 0.04  # leads from the same submission as the previous one (another product)
# Fixed, so partners, products and product sets keep their CRF ids from one run to the next.
NAMESPACE = uuid.UUID("6f1d7c3e-2b0a-4c55-9a51-5e8f3d2c1b70")


def _crf_id(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


# --- The partners and products every demo lead picks from --------------------------------------
# (name, route, weight)
LEAD_SOURCES = [
    ("CRF Connect Marketplace", "connect-marketplace", 50),
    ("Small Business Development Center", "sbdc-network", 15),
    ("Community Bank Referral Network", "community-bank-referrals", 13),
    ("Main Street Chamber of Commerce", "main-street-chamber", 12),
    ("City Economic Development Office", "city-economic-development", 10),
]
# route → (name, loan officers: the `leadOwner` of that partner's leads)
SERVICE_PARTNERS = {
    "northstar-community-capital": (
        "Northstar Community Capital",
        ["Dana Lindqvist", "Marcus Oyelaran", "Priya Raman"],
    ),
    "prairie-lending-cooperative": ("Prairie Lending Cooperative", ["Tom Halvorsen", "Ana Ruiz"]),
    "lakeshore-opportunity-fund": (
        "Lakeshore Opportunity Fund",
        ["Keisha Grant", "Daniel Novak", "Mei Chen"],
    ),
    "sunbelt-small-business-lenders": ("Sunbelt Small Business Lenders", ["Luis Ortega"]),
}


@dataclass(frozen=True)
class DemoProduct:
    name: str
    partner: str  # SERVICE_PARTNERS route
    product_set: str
    amounts: tuple[int, int]  # what applicants ask this product for (not sent: no such field)
    term: tuple[int, int | None]  # months
    apr: tuple[float, float | None, str]
    loan_type: str
    collateral: str
    tags: tuple[str, ...]
    weight: int
    frequency: str = "Monthly"


PRODUCTS = [
    DemoProduct(
        "Northstar Microloan",
        "northstar-community-capital",
        "Minnesota Main Street Fund",
        amounts=(5_000, 50_000),
        term=(6, 36),
        apr=(8.0, 12.0, "Fixed"),
        loan_type="TermLoan",
        collateral="Unsecured",
        tags=("Minneapolis Metro Team", "Startup Friendly"),
        weight=22,
    ),
    DemoProduct(
        "Northstar Equipment Loan",
        "northstar-community-capital",
        "Minnesota Main Street Fund",
        amounts=(20_000, 250_000),
        term=(12, 84),
        apr=(7.5, 10.5, "Fixed"),
        loan_type="TermLoan",
        collateral="Secured",
        tags=("Minneapolis Metro Team",),
        weight=10,
    ),
    DemoProduct(
        "Prairie Working Capital Line",
        "prairie-lending-cooperative",
        "Community Lending Pool",
        amounts=(10_000, 150_000),
        term=(12, None),
        apr=(9.25, 14.0, "Variable"),
        loan_type="LineOfCredit",
        collateral="Unsecured",
        tags=("Rural", "Greater Minnesota"),
        weight=14,
    ),
    DemoProduct(
        "Prairie Farm & Ranch Loan",
        "prairie-lending-cooperative",
        "Community Lending Pool",
        amounts=(25_000, 400_000),
        term=(24, 120),
        apr=(6.5, 9.0, "Fixed"),
        loan_type="TermLoan",
        collateral="Secured",
        tags=("Rural", "Agriculture"),
        weight=6,
        frequency="Quarterly",
    ),
    DemoProduct(
        "Lakeshore Startup Loan",
        "lakeshore-opportunity-fund",
        "Community Lending Pool",
        amounts=(5_000, 75_000),
        term=(12, 60),
        apr=(5.0, 8.0, "Fixed"),
        loan_type="TermLoan",
        collateral="Unsecured",
        tags=("Startup Friendly", "Women-Owned Business Program"),
        weight=16,
    ),
    DemoProduct(
        "Lakeshore Commercial Real Estate Loan",
        "lakeshore-opportunity-fund",
        "SBA Partner Programs",
        amounts=(100_000, 500_000),
        term=(60, 300),
        apr=(6.25, 8.5, "Fixed"),
        loan_type="TermLoan",
        collateral="Secured",
        tags=("Real Estate",),
        weight=5,
    ),
    DemoProduct(
        "Sunbelt Express Loan",
        "sunbelt-small-business-lenders",
        "SBA Partner Programs",
        amounts=(5_000, 100_000),
        term=(3, 18),
        apr=(12.0, 24.0, "Fixed"),
        loan_type="TermLoan",
        collateral="Unsecured",
        tags=("Fast Funding",),
        weight=15,
        frequency="Weekly",
    ),
    DemoProduct(
        "Sunbelt SBA 7(a) Loan",
        "sunbelt-small-business-lenders",
        "SBA Partner Programs",
        amounts=(50_000, 500_000),
        term=(84, 120),
        apr=(7.0, None, "Variable"),
        loan_type="TermLoan",
        collateral="Secured",
        tags=("SBA",),
        weight=12,
    ),
]

# (city, state, county, state+county FIPS, latitude, longitude, first three zip digits, weight)
METROS = [
    ("Minneapolis", "Minnesota", "Hennepin", "27053", 44.9778, -93.2650, "554", 14),
    ("Saint Paul", "Minnesota", "Ramsey", "27123", 44.9537, -93.0900, "551", 8),
    ("Duluth", "Minnesota", "St. Louis", "27137", 46.7867, -92.1005, "558", 3),
    ("Rochester", "Minnesota", "Olmsted", "27109", 44.0121, -92.4802, "559", 3),
    ("Fargo", "North Dakota", "Cass", "38017", 46.8772, -96.7898, "581", 2),
    ("Milwaukee", "Wisconsin", "Milwaukee", "55079", 43.0389, -87.9065, "532", 5),
    ("Chicago", "Illinois", "Cook", "17031", 41.8781, -87.6298, "606", 9),
    ("Detroit", "Michigan", "Wayne", "26163", 42.3314, -83.0458, "482", 5),
    ("Cleveland", "Ohio", "Cuyahoga", "39035", 41.4993, -81.6944, "441", 4),
    ("Brooklyn", "New York", "Kings", "36047", 40.6782, -73.9442, "112", 5),
    ("Philadelphia", "Pennsylvania", "Philadelphia", "42101", 39.9526, -75.1652, "191", 4),
    ("Baltimore", "Maryland", "Baltimore City", "24510", 39.2904, -76.6122, "212", 3),
    ("Atlanta", "Georgia", "Fulton", "13121", 33.7490, -84.3880, "303", 5),
    ("Miami", "Florida", "Miami-Dade", "12086", 25.7617, -80.1918, "331", 4),
    ("Memphis", "Tennessee", "Shelby", "47157", 35.1495, -90.0490, "381", 3),
    ("New Orleans", "Louisiana", "Orleans", "22071", 29.9511, -90.0715, "701", 3),
    ("Houston", "Texas", "Harris", "48201", 29.7604, -95.3698, "770", 6),
    ("San Antonio", "Texas", "Bexar", "48029", 29.4241, -98.4936, "782", 4),
    ("Albuquerque", "New Mexico", "Bernalillo", "35001", 35.0844, -106.6504, "871", 2),
    ("Phoenix", "Arizona", "Maricopa", "04013", 33.4484, -112.0740, "850", 5),
    ("Denver", "Colorado", "Denver", "08031", 39.7392, -104.9903, "802", 4),
    ("Los Angeles", "California", "Los Angeles", "06037", 34.0522, -118.2437, "900", 7),
    ("Oakland", "California", "Alameda", "06001", 37.8044, -122.2712, "946", 3),
    ("Portland", "Oregon", "Multnomah", "41051", 45.5152, -122.6784, "972", 3),
    ("Seattle", "Washington", "King", "53033", 47.6062, -122.3321, "981", 4),
]

# Words for business names by industry; the others get a Faker company name.
BUSINESS_WORDS = {
    Industry.RESTAURANT: ("Kitchen", "Bistro", "Taqueria", "Grill", "Noodle House", "Bakery"),
    Industry.ACCOMMODATION: ("Cafe", "Catering", "Coffee Co.", "Food Truck"),
    Industry.RETAIL: ("Boutique", "Goods", "Market", "Outfitters", "Books"),
    Industry.CONSTRUCTION: ("Builders", "Construction", "Contracting", "Roofing"),
    Industry.PROFESSIONAL: ("Consulting", "Design Studio", "Accounting", "Law Office"),
    Industry.BUSINESS_SERVICES: ("Cleaning Services", "Staffing", "Print & Copy"),
    Industry.TRANSPORTATION: ("Trucking", "Logistics", "Courier"),
    Industry.AGRICULTURE: ("Family Farm", "Orchards", "Greenhouses"),
    Industry.HEALTHCARE: ("Home Care", "Family Clinic", "Therapy"),
    Industry.DENTISTS: ("Dental", "Family Dentistry", "Chiropractic"),
    Industry.MANUFACTURING: ("Fabrication", "Woodworks", "Manufacturing"),
    Industry.IT: ("Software", "Tech Solutions", "IT Services"),
}
BUSINESS_SUFFIX = {BusinessType.LLC: " LLC", BusinessType.CORPORATION: " Inc."}
OTHER_REASONS = [
    "Applicant asked for a larger amount than the program allows.",
    "Business is outside our service area.",
    "Applicant chose to wait until next season.",
]
FORWARD = [Status.MATCHED, Status.REVIEWED, Status.CONTACTED, Status.QUALIFIED, Status.FUNDED]


@dataclass(frozen=True)
class DemoDelivery:
    lead_id: str
    when: datetime  # when CRF would have sent it
    payload: dict
    first: bool  # the lead's first delivery (not a lead update)

    @property
    def body(self) -> bytes:
        return json.dumps(self.payload).encode()


def deliveries(count: int, seed: int, now: datetime) -> Iterator[DemoDelivery]:
    """The deliveries of `count` leads created over the last weeks, in the order CRF sends them."""
    fake = Faker("en_US", use_weighting=False)  # uniform picks: many times faster
    fake.seed_instance(seed)
    order = itertools.count()  # ties on time keep generation order
    waiting: list[tuple[datetime, int, DemoDelivery]] = []
    lead = None
    for created in _creation_times(fake.random, count, now):
        if lead is not None and fake.random.random() < SIBLING_SHARE:
            lead = _sibling(fake, lead)
        else:
            lead = _new_lead(fake, created)
        for delivery in _timeline(fake.random, lead, now):
            heapq.heappush(waiting, (delivery.when, next(order), delivery))
        # Updates of earlier leads that CRF would have sent before this lead was created.
        while waiting and waiting[0][0] <= _created(lead):
            yield heapq.heappop(waiting)[2]
    while waiting:
        yield heapq.heappop(waiting)[2]


def _creation_times(rng: Random, count: int, now: datetime) -> list[datetime]:
    span = timedelta(weeks=HISTORY_WEEKS).total_seconds()
    times = []
    for _ in range(count):
        when = now - timedelta(seconds=rng.uniform(0, span))
        if when.weekday() >= 5 and rng.random() < 0.6:  # fewer applications at weekends
            when = now - timedelta(seconds=rng.uniform(0, span))
        times.append(when)
    return sorted(times)


def _created(lead: dict) -> datetime:
    return datetime.fromisoformat(lead["dateCreated"])


# --- One lead's first delivery ------------------------------------------------------------------


def _new_lead(fake: Faker, created: datetime) -> dict:
    rng = fake.random
    product = _weighted(rng, PRODUCTS, [p.weight for p in PRODUCTS])
    business, owner = _business(fake), _owner(fake)
    address, statistics = _place(fake)
    parts = _product_fields(rng, product)
    return {  # in the schema's order, as CRF sends it
        "id": fake.uuid4(),
        "submissionId": fake.uuid4(),
        "duplicateId": _duplicate_id(owner["email"], business["nameOfBusiness"]),
        "dateCreated": created.isoformat(),
        "status": Status.MATCHED.value,
        "state": State.SUBMITTED.value,
        **_request(rng, product, business["yearsInBusiness"]),
        "ownershipDemographicTypes": _demographics(rng),
        "nameOfBusiness": business.pop("nameOfBusiness"),
        "businessAddress": address,
        **business,
        **owner,
        "statistics": statistics,
        "howDidYouHear": None if rng.random() < 0.3 else rng.choice(_values(HowDidYouHear)),
        "preferredContactTime": rng.choice(_values(ContactTime)),
        "preferredContactMethod": rng.choice(_values(ContactMethod)),
        "funded": None,
        **_technical_assistance(rng),
        "disqualifiedReason": None,
        "withdrawnReason": None,
        "otherReasonText": "",
        "leadSource": _lead_source(rng),
        **parts,
        "fraudScore": _fraud_score(rng),
        "ipAddress": fake.ipv4_public(),
    }


def _sibling(fake: Faker, lead: dict) -> dict:
    """The same submission matched to another product: a second lead, seconds later."""
    product = _weighted(fake.random, PRODUCTS, [p.weight for p in PRODUCTS])
    created = _created(lead) + timedelta(seconds=fake.random.randint(1, 40))
    return (
        lead
        | _product_fields(fake.random, product)
        | {
            "id": fake.uuid4(),
            "dateCreated": created.isoformat(),
            "requestedAmount": _amount(fake.random, product),
        }
    )


@functools.cache
def _values(lookup: type[models.TextChoices]) -> list[str]:
    return lookup.values  # computed afresh on every access otherwise


def _weighted(rng: Random, items: list, weights: list[int]):
    return rng.choices(items, weights=weights)[0]


def _duplicate_id(email: str, business: str) -> str:
    digest = hashlib.sha256(f"{email.lower()}|{business.lower()}".encode()).digest()
    return base64.b64encode(digest).decode()


def _amount(rng: Random, product: DemoProduct) -> int:
    low, high = product.amounts
    # Log-uniform: many small requests, a few large ones; rounded as people round them.
    amount = math.exp(rng.uniform(math.log(low), math.log(high)))
    step = 1_000 if amount < 50_000 else 5_000
    return max(low, int(round(amount / step) * step))


def _request(rng: Random, product: DemoProduct, years: str) -> dict:
    startup = years == YearsInBusiness.STARTUP
    uses = _values(UseOfProceeds)
    use = UseOfProceeds.START_BUSINESS.value if startup and rng.random() < 0.6 else rng.choice(uses)
    collateral = (
        []
        if product.collateral == "Unsecured"
        else rng.sample(_values(CollateralType), rng.choice([1, 1, 2, 3]))
    )
    return {
        "requestedAmount": _amount(rng, product),
        "useOfProceeds": use,
        "financeNeededBy": rng.choice(_values(FinanceNeededBy)),
        "hasBusinessPlan": rng.random() < (0.45 if startup else 0.7),
        "collateralTypes": None if rng.random() < 0.05 else collateral,
    }


def _business(fake: Faker) -> dict:
    rng = fake.random
    industry = rng.choice(_values(Industry))
    business_type = _weighted(rng, _values(BusinessType), [20, 45, 20, 8, 7])
    words = BUSINESS_WORDS.get(industry)
    name = f"{fake.last_name()} {rng.choice(words)}" if words else fake.company()
    name = name.removesuffix(" LLC").removesuffix(" Inc") + BUSINESS_SUFFIX.get(business_type, "")
    years = _weighted(rng, _values(YearsInBusiness), [18, 17, 17, 13, 35])
    return {
        "nameOfBusiness": name,
        "yearsInBusiness": years,
        "numEmployees": _employees(rng, years),
        "industry": industry,
        "businessType": business_type,
        **_revenue(rng, years),
    }


def _employees(rng: Random, years: str) -> int:
    if years == YearsInBusiness.STARTUP:
        return rng.randint(0, 3)
    return max(1, min(250, int(rng.lognormvariate(1.4, 1.0))))


def _revenue(rng: Random, years: str) -> dict:
    bands = _values(Revenue)
    if years == YearsInBusiness.STARTUP:
        last = None if rng.random() < 0.6 else 0
    else:
        last = min(len(bands) - 1, int(rng.expovariate(0.8)))
    projected = min(len(bands) - 1, (last or 0) + rng.choice([0, 0, 1]))
    # Net profit as a margin of the band's lower bound; unanswered now and then.
    floor = [50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000][last or 0]
    profit = None if rng.random() < 0.2 else round(floor * rng.uniform(-0.1, 0.2), -2)
    return {
        "revenueLastYear": None if last is None else bands[last],
        "revenueProjected": bands[projected],
        "netProfit": profit,
    }


def _owner(fake: Faker) -> dict:
    rng = fake.random
    first, last = fake.first_name(), fake.last_name()
    return {
        "firstName": first,
        "lastName": last,
        "email": _email(first, last, fake.domain_word()),
        "phone": fake.numerify("%##-555-01##"),  # 555-01xx: reserved for fiction
        "ficoScore": _weighted(rng, _values(FicoScore), [35, 22, 12, 10, 11, 10]),
        "priorBankruptcies": _weighted(rng, _values(PriorBankruptcies), [88, 9, 3]),
    }


def _email(first: str, last: str, domain: str) -> str:
    local = "".join(c for c in f"{first}.{last}".lower() if c.isalnum() or c == ".")
    return f"{local}@{domain}.example"  # .example: reserved, never a real mailbox


def _demographics(rng: Random) -> list[str] | None:
    if rng.random() < 0.05:
        return None
    chosen = [
        value
        for value, share in [("Women", 0.42), ("Veteran", 0.08), ("LGBTQ", 0.05)]
        if rng.random() < share
    ]
    if rng.random() < 0.45:
        others = [
            v for v in _values(OwnershipDemographic) if v not in {"Women", "Veteran", "LGBTQ"}
        ]
        chosen.append(rng.choice(others))
    return chosen


def _technical_assistance(rng: Random) -> dict:
    wanted = None if rng.random() < 0.1 else rng.random() < 0.4
    options = rng.sample(_values(TechnicalAssistance), rng.randint(1, 3)) if wanted else []
    return {
        "willReceiveTechnicalAssistance": wanted,
        "technicalAssistanceOptions": None if wanted is None else options,
    }


def _place(fake: Faker) -> tuple[dict, dict]:
    """The business address and its `statistics` (census tract within the county, near the city)."""
    rng = fake.random
    city, state, county, fips, lat, lon, zip3, _ = _weighted(rng, METROS, [m[-1] for m in METROS])
    tract = f"{fips}{rng.randint(1, 1300):04d}{rng.choice(['00', '00', '00', '01', '02'])}"
    address = {
        "line1": fake.street_address(),
        "line2": f"Suite {rng.randint(100, 450)}" if rng.random() < 0.15 else None,
        "city": city,
        "state": state,
        "zip": f"{zip3}{rng.randint(1, 99):02d}",
        "county": county,
    }
    statistics = {
        "censusTract": tract,
        "latitude": round(lat + rng.uniform(-0.12, 0.12), 7),
        "longitude": round(lon + rng.uniform(-0.12, 0.12), 7),
        "craEligibleTract": rng.random() < 0.35,
        "isCDFIInvestmentArea": _weighted(rng, [True, False, None], [45, 45, 10]),
    }
    return address, statistics


def _fraud_score(rng: Random) -> float:
    roll = rng.random()
    if roll < 0.75:
        return 0
    if roll < 0.96:
        return round(rng.uniform(0.01, 0.5), 4)
    return round(rng.uniform(0.85, 0.99), 4)


def _lead_source(rng: Random) -> dict:
    name, route, _ = _weighted(rng, LEAD_SOURCES, [s[-1] for s in LEAD_SOURCES])
    return {"id": _crf_id("lead-source", route), "name": name, "route": route}


def _product_fields(rng: Random, product: DemoProduct) -> dict:
    partner_name, officers = SERVICE_PARTNERS[product.partner]
    apr_min, apr_max, apr_type = product.apr
    return {
        "servicePartner": {
            "id": _crf_id("service-partner", product.partner),
            "name": partner_name,
            "route": product.partner,
        },
        "leadOwner": rng.choice(officers),
        "matchedProduct": {
            "id": _crf_id("product", product.name),
            "name": product.name,
            "tags": list(product.tags),
            "kind": "Loan",
            "termRange": {"min": product.term[0], "max": product.term[1], "type": "Months"},
            "aprRange": {"min": apr_min, "max": apr_max, "type": apr_type},
            "loanType": product.loan_type,
            "collateralType": product.collateral,
            "paymentFrequency": product.frequency,
        },
        "productSet": {
            "id": _crf_id("product-set", product.product_set),
            "name": product.product_set,
        },
    }


# --- Lead updates ---------------------------------------------------------------------------------


def _timeline(rng: Random, lead: dict, now: datetime) -> list[DemoDelivery]:
    """The lead's deliveries: every step for lead-update leads, else only the latest state."""
    with_updates = rng.random() < UPDATE_SHARE
    path = _status_path(rng, high_fraud=lead["fraudScore"] >= 0.85)
    times = [_created(lead)]
    for _ in path[1:]:
        step = times[-1] + timedelta(days=rng.uniform(0.3, 12))
        if step > now:
            break
        times.append(step)
    if with_updates and len(times) == 1:  # too recent for its path: one update, just in
        path = path if len(path) > 1 else [Status.MATCHED, Status.REVIEWED]
        times.append(times[0] + (now - times[0]) * rng.uniform(0.3, 1))
    steps = list(zip(path, times, strict=False))
    steps = steps if with_updates else steps[-1:]
    payload = lead
    sent = []
    for status, when in steps:
        payload = _advance(rng, payload, status, when)
        sent.append(DemoDelivery(lead["id"], when, payload, first=not sent))
    return sent


def _status_path(rng: Random, high_fraud: bool) -> list[str]:
    if high_fraud:  # CRF would not match these; the few that come through are soon withdrawn
        return [Status.MATCHED, Status.WITHDRAWN] if rng.random() < 0.5 else [Status.MATCHED]
    path = [Status.MATCHED]
    while path[-1] != Status.FUNDED:
        roll = rng.random()
        if roll < 0.4:
            break  # still at this step
        if roll < 0.52 and path[-1] != Status.MATCHED:
            path.append(rng.choice([Status.DISQUALIFIED, Status.WITHDRAWN]))
            break
        path.append(FORWARD[FORWARD.index(path[-1]) + 1])
    return path


def _advance(rng: Random, lead: dict, status: str, when: datetime) -> dict:
    """The lead as CRF sends it once it reached `status` (fields for that status filled in)."""
    if status == lead["status"]:
        return lead
    changed = {"status": str(status)}
    if status == Status.FUNDED:
        changed["funded"] = _funded(rng, lead, when)
    elif status == Status.DISQUALIFIED:
        changed |= _reason(rng, "disqualifiedReason", _values(DisqualifiedReason))
    elif status == Status.WITHDRAWN:
        fraud = lead["fraudScore"] >= 0.5
        reasons = [WithdrawnReason.FRAUD.value] if fraud else _values(WithdrawnReason)
        changed |= _reason(rng, "withdrawnReason", reasons)
        if changed["withdrawnReason"] == WithdrawnReason.DUPLICATE:
            changed["state"] = State.REMOVED.value  # CRF removes duplicates from the partner's list
    return lead | changed


def _reason(rng: Random, field: str, reasons: list[str]) -> dict:
    reason = rng.choice(reasons)
    other = rng.choice(OTHER_REASONS) if reason == "Other" else ""
    return {field: reason, "otherReasonText": other}


def _funded(rng: Random, lead: dict, when: datetime) -> dict:
    product = lead["matchedProduct"]
    apr, term = product["aprRange"], product["termRange"]
    rate = round(rng.uniform(apr["min"], apr["max"] or apr["min"] + 3), 2)
    months = rng.choice(
        [
            m
            for m in (6, 12, 18, 24, 36, 48, 60, 84, 120, 180, 240, 300)
            if term["min"] <= m <= (term["max"] or 60)
        ]
        or [term["min"]]
    )
    amount = lead["requestedAmount"] * rng.choice([1, 1, 1, 0.8, 0.6, 0.5])
    return {
        "fundedAmount": max(1_000, int(round(amount / 500) * 500)),
        "fundedInterestRate": rate,
        "fundedAPR": round(rate + rng.uniform(0.1, 0.9), 2),
        "fundedTermMonths": months,
        "fundedAmortizationMonths": months * rng.choice([1, 1, 1, 2]),
        "fundedDate": when.isoformat(),
    }


# --- Seeding (`manage.py seed_demo`) -------------------------------------------------------------


SHARD_LEADS = 10_000  # leads per task when several processes write (PostgreSQL)
HEADERS = {"Content-Type": "application/json", "User-Agent": "LeadCRM seed_demo"}


def _send_leads(job: tuple[int, int, datetime], progress=lambda leads: None) -> tuple[int, int]:
    """Generate `count` leads from `seed` and store them through the bulk intake; returns the
    leads and the deliveries (lead updates included) written."""
    count, seed, now = job
    sent = 0

    def generated():
        nonlocal sent
        for delivery in deliveries(count, seed, now):
            sent += 1
            progress(delivery.first)
            # When CRF would have sent it: history dates spread over the weeks.
            yield delivery.body, delivery.when

    for _ in bulk.import_leads(generated(), source=DeliverySource.DEMO, headers=HEADERS):
        pass
    return count, sent


def add_arguments(parser) -> None:
    parser.add_argument("--leads", type=int, default=300, help="how many leads (default 300)")


def seed(command, *, leads: int, seed: int, if_empty: bool, **_) -> None:
    """Generated leads and lead updates, stored in bulk as the intake would, with a progress bar."""
    if leads < 0:
        raise CommandError("--leads must be 0 or more.")
    if if_empty and (existing := Lead.objects.count()):
        command.stdout.write(f"{existing} leads already exist: no demo leads added (--if-empty).")
        return
    started = time.monotonic()
    sent = _send(command, leads, seed)
    command.stdout.write(
        command.style.SUCCESS(
            f"Demo data: {leads} leads in {sent} deliveries ({sent - leads} lead updates) "
            f"in {time.monotonic() - started:.1f}s (seed {seed})."
        )
    )


def _send(command, count: int, seed: int) -> int:
    # The raw stream: Django's OutputWrapper would end each of tqdm's redraws with a newline.
    bar = tqdm(total=count, unit="lead", desc="Demo leads", file=command.stderr._out)
    now = timezone.now()
    with bar:
        if count <= SHARD_LEADS or connection.vendor != "postgresql":
            return _send_leads((count, seed, now), progress=bar.update)[1]
        # A shard of leads per task, a process per core: generating and reading leads is
        # Python's work, and PostgreSQL takes writers side by side. Each shard is seeded from
        # --seed, so a seed still repeats a run.
        jobs = [
            (min(SHARD_LEADS, count - start), seed * 100_000 + number, now)
            for number, start in enumerate(range(0, count, SHARD_LEADS))
        ]
        connections.close_all()  # forked workers must open connections of their own
        sent = 0
        with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
            for leads, deliveries in pool.imap_unordered(_send_leads, jobs):
                bar.update(leads)
                sent += deliveries
        return sent
