"""The CRF Connect lookups (docs/contract.md#crf-lookups). Values outside them are kept as sent."""

from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.db.models import Q


class Status(models.TextChoices):
    MATCHED = "Matched"
    REVIEWED = "Reviewed"
    CONTACTED = "Contacted"
    QUALIFIED = "Qualified"
    FUNDED = "Funded"
    DISQUALIFIED = "Disqualified"
    WITHDRAWN = "Withdrawn"


class State(models.TextChoices):
    SUBMITTED = "Submitted"
    REMOVED = "Removed"


class UseOfProceeds(models.TextChoices):
    WORKING_CAPITAL = "Working Capital"
    START_BUSINESS = "Start a Business"
    ACQUIRE_BUSINESS = "Acquire a Business"
    INVENTORY = "Purchase Inventory"
    EQUIPMENT = "Purchase Machinery or Equipment"
    BUILDING_IMPROVEMENTS = "Make Building Improvements"
    BUILDING_ACQUISITION = "Building Acquisition"
    REFINANCE = "Refinance Existing Debt"
    OTHER = "Other"


class FinanceNeededBy(models.TextChoices):
    TODAY = "Today"
    TWO_WEEKS = "InNextTwoWeeks", "In the next two weeks"
    TWO_MONTHS = "InNextTwoMonths", "In the next two months"
    MULTIPLE = "MultipleOptions", "Multiple options"


class CollateralType(models.TextChoices):
    COMMERCIAL_RE = "Commercial Real Estate"
    RESIDENTIAL_RE = "Residential Real Estate"
    INVENTORY = "Inventory"
    RECEIVABLES = "Accounts Receivable"
    CASH = "Cash"
    INVESTMENTS = "Investment Accounts"
    NEW_EQUIPMENT = "New Equipment/Machinery"
    FURNITURE = "Furniture & Fixtures"
    VEHICLES = "Vehicles"
    USED_EQUIPMENT = "Used Equipment/Machinery"
    VACANT_LAND = "Vacant Land"
    LEASEHOLD = "Leasehold Improvements"
    OTHER = "Other"


class OwnershipDemographic(models.TextChoices):
    WOMEN = "Women"
    VETERAN = "Veteran"
    LGBTQ = "LGBTQ"
    BLACK = "Black/African-American"
    ASIAN = "Asian"
    HISPANIC = "Hispanic/Latino/Latinx"
    NATIVE_AMERICAN = "Native American"
    ALASKAN_NATIVE = "Alaskan Native"
    NATIVE_HAWAIIAN = "Native Hawaiian"
    PACIFIC_ISLANDER = "Pacific Islander"
    MIXED_RACE = "Mixed-race"
    OTHER = "Other"


class YearsInBusiness(models.TextChoices):
    STARTUP = "Startup"
    LESS_THAN_ONE = "LessThanOne", "Less than one"
    ONE_TO_TWO = "OneToTwo", "One to two"
    TWO_TO_THREE = "TwoToThree", "Two to three"
    THREE_OR_MORE = "ThreeOrMore", "Three or more"


class Industry(models.TextChoices):
    ACCOMMODATION = "Accomodation & Food Service"  # sic: CRF's spelling
    AGRICULTURE = "Agriculture"
    BUSINESS_SERVICES = "Business Services"
    CONSTRUCTION = "Construction"
    DENTISTS = "Dentists/Physicians"
    EDUCATION = "Educational Services"
    FINANCE = "Finance & Insurance"
    GAS_STATIONS = "Gas Stations & Convenience Stores"
    HEALTHCARE = "Healthcare and Social Assistance"
    HOTELS = "Hotels"
    IT = "Information Technology"
    LANDLORD = "Landlord"
    MANUFACTURING = "Manufacturing"
    MINING = "Mining"
    PROFESSIONAL = "Professional Services"
    REAL_ESTATE = "Real Estate"
    RESTAURANT = "Restaurant"
    RETAIL = "Retail"
    TRANSPORTATION = "Transportation & Warehousing"
    UTILITIES = "Utilities"
    WASTE = "Waste Management"
    WHOLESALE = "Wholesale Trade"
    OTHER = "Other"


class BusinessType(models.TextChoices):
    SOLE_PROPRIETORSHIP = "SoleProprietorship", "Sole proprietorship"
    LLC = "LLC"
    CORPORATION = "Corporation"
    NON_PROFIT = "NonProfit", "Non-profit"
    OTHER = "Other"


class Revenue(models.TextChoices):
    UNDER_100K = "LessThan100000", "Less than $100,000"
    FROM_100K = "_100000To250000", "$100,000 – $250,000"
    FROM_250K = "_250000To500000", "$250,000 – $500,000"
    FROM_500K = "_500000To1000000", "$500,000 – $1,000,000"
    FROM_1M = "_1000000To5000000", "$1,000,000 – $5,000,000"
    OVER_5M = "MoreThan5000000", "More than $5,000,000"


class FicoScore(models.TextChoices):
    FROM_700 = "_700Plus", "700+"
    FROM_660 = "_660To699", "660–699"
    FROM_640 = "_640To659", "640–659"
    FROM_620 = "_620To639", "620–639"
    FROM_580 = "_580To619", "580–619"
    BELOW_580 = "Below580", "Below 580"


class PriorBankruptcies(models.TextChoices):
    NONE = "None"
    ONE = "_1Prior", "1 prior"
    TWO_OR_MORE = "_2OrMore", "2 or more"


class HowDidYouHear(models.TextChoices):
    GOOGLE = "Google"
    FACEBOOK = "Facebook"
    AD = "Ad"
    EMAIL = "Email"
    EVENT = "Event"
    WORD_OF_MOUTH = "WordOfMouth", "Word of mouth"
    LENDER_REFERRAL = "LenderReferral", "Lender referral"
    OTHER = "Other"


class ContactTime(models.TextChoices):
    MORNING = "Morning"
    AFTERNOON = "Afternoon"
    EVENING = "Evening"


class ContactMethod(models.TextChoices):
    EMAIL = "Email"
    PHONE = "Phone"


class WithdrawnReason(models.TextChoices):
    STOPPED_RESPONDING = "BorrowerStoppedResponding", "Borrower stopped responding"
    DUPLICATE = "Duplicate"
    LOST_BID = "LostBidToCompetitor", "Lost bid to competitor"
    FRAUD = "FraudOrSpam", "Fraud or spam"
    REASSIGNMENT = "Reassignment"
    OTHER = "Other"


class DisqualifiedReason(models.TextChoices):
    ELIGIBILITY = "EligibilityIssue", "Eligibility issue"
    CREDIT = "CreditIssue", "Credit issue"
    CASH_FLOW = "CashFlowIssue", "Cash-flow issue"
    COLLATERAL = "CollateralIssue", "Collateral issue"
    LOAN_USE = "LoanUseIssue", "Loan-use issue"
    GUARANTEE = "PersonalGuaranteeIssue", "Personal-guarantee issue"
    OTHER = "Other"


class TechnicalAssistance(models.TextChoices):
    ACCOUNTING = "Accounting"
    BUSINESS_PLAN = "BusinessPlan", "Business plan"
    BUY_SELL = "BuyOrSellABusiness", "Buy or sell a business"
    CASH_FLOW = "CashFlowManagement", "Cash-flow management"
    FORMATION = "CompanyFormation", "Company formation"
    CUSTOMER_RELATIONS = "CustomerRelations", "Customer relations"
    CREDIT_COUNSELING = "CreditCounseling", "Credit counseling"
    FINANCING = "FinancingOrCapital", "Financing or capital"
    FRANCHISING = "Franchising"
    GOVERNMENT = "GovernmentContracting", "Government contracting"
    HR = "HumanResourcesAndManagement", "Human resources and management"
    INTERNATIONAL = "InternationalTrade", "International trade"
    LEGAL = "LegalIssues", "Legal issues"
    MARKETING = "MarketingOrSales", "Marketing or sales"
    PROCUREMENT = "PrivateSectorProcurement", "Private-sector procurement"
    TAX = "TaxPlanning", "Tax planning"
    TECHNOLOGY = "TechnologyAndECommerce", "Technology and e-commerce"


# What a lender may set through CRF's Lead Management API (docs/contract.md#16-dispositions):
# every status but Matched, which only CRF sets.
class LenderStatus(models.TextChoices):
    REVIEWED = "Reviewed"
    CONTACTED = "Contacted"
    QUALIFIED = "Qualified"
    FUNDED = "Funded"
    DISQUALIFIED = "Disqualified"
    WITHDRAWN = "Withdrawn"


class WriteBack(models.TextChoices):
    """Where a disposition is on its way to CRF."""

    LOCAL = "local", "Recorded here only (no CRF key)"
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent to CRF"
    FAILED = "failed", "Failed"
    SUPERSEDED = "superseded", "Superseded by a newer one"


class Confirmation(models.TextChoices):
    WEBHOOK = "webhook", "CRF's lead update"
    READ_BACK = "read-back", "Read back from CRF"


class DispositionSource(models.TextChoices):
    PAGE = "page", "Lead page"
    IMPORT = "import", "CSV import"


# Statuses a lead is still worked in: the lender has not funded or closed it.
OPEN_STATUSES = ["Matched", "Reviewed", "Contacted", "Qualified"]
# A disposition at or past Contacted is a first contact (speed to lead).
CONTACTED_OR_BEYOND = {"Contacted", "Qualified", "Funded", "Disqualified", "Withdrawn"}


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"


class ActivityOutcome(models.TextChoices):
    REACHED = "reached", "Reached the applicant"
    VOICEMAIL = "voicemail", "Left a voicemail"
    NO_ANSWER = "no-answer", "No answer"
    SENT = "sent", "Sent (email)"
    REPLIED = "replied", "Applicant replied"
    MET = "met", "Met"
    NO_SHOW = "no-show", "Applicant did not come"


class DeliverySource(models.TextChoices):
    WEBHOOK = "webhook"
    AZURE_QUEUE = "azure-queue", "Azure queue"
    AZURE_BLOB = "azure-blob", "Azure blob"
    DEMO = "demo"


class DeliveryOutcome(models.TextChoices):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"
    REJECTED = "rejected"


# CRF withholds leads scoring this or more from partner matching (docs/contract.md#fraud-score).
WITHHELD_FROM = Decimal("0.85")
# The smallest step between two stored scores: Lead.fraud_score keeps five decimals, and the CRF
# reader rounds what it is sent to them.
SCORE_STEP = Decimal("0.00001")


@dataclass(frozen=True)
class FraudBand:
    """A fraud-score band staff filter, colour and chart by: the scores from `lower` (inclusive)
    up to `upper` (exclusive; None: no upper bound). The database's condition and Python's test
    are both made from these bounds, so a lead's badge and the filter it appears under agree."""

    key: str
    label: str
    lower: Decimal
    upper: Decimal | None
    colour: str

    @property
    def condition(self) -> Q:
        below = Q() if self.upper is None else Q(fraud_score__lt=self.upper)
        return Q(fraud_score__gte=self.lower) & below

    def holds(self, score: Decimal) -> bool:
        return self.lower <= score and (self.upper is None or score < self.upper)


# In order, each starting where the one before ends. "0" is 0 alone: it ends at the next score.
FRAUD_BANDS = [
    FraudBand("zero", "0", Decimal(0), SCORE_STEP, "#16a34a"),
    FraudBand("low", ">0–0.5", SCORE_STEP, Decimal("0.5"), "#ca8a04"),
    FraudBand("high", "0.5–0.85", Decimal("0.5"), WITHHELD_FROM, "#ea580c"),
    FraudBand("withheld", "≥0.85 (withheld from matching)", WITHHELD_FROM, None, "#dc2626"),
]


def fraud_band(score: Decimal) -> FraudBand | None:
    """The band a score is in; None for one outside them all (below 0, which CRF never sends)."""
    return next((band for band in FRAUD_BANDS if band.holds(score)), None)


# One colour per status on every page (list badges, dashboard). Each has at least 3:1 contrast on
# the admin's light and dark backgrounds.
STATUS_COLOURS = {
    Status.MATCHED: "#2563eb",
    Status.REVIEWED: "#0d9488",
    Status.CONTACTED: "#7c3aed",
    Status.QUALIFIED: "#d97706",
    Status.FUNDED: "#16a34a",
    Status.DISQUALIFIED: "#dc2626",
    Status.WITHDRAWN: "#6b7280",
}
