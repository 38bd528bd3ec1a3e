"""The fair-lending firewall: the sensitive lead fields, named once, and every guard derived here.

Ownership demographics must stay away from who decides on credit. Their values, and everything
derived from them, reach only users with DEMOGRAPHICS_PERMISSION: not a column, a list lookup, a
search, an export, a data problem about the field, an unknown key that carries it, a notification
template. Each place that shows leads asks this module instead of naming the field itself, so a
new screen cannot forget one.
"""

import re
from typing import Any

from .choices import OwnershipDemographic

DEMOGRAPHICS_PERMISSION = "leads.view_demographics"
# Lead model field → its CRF name.
SENSITIVE_FIELDS = {"ownership_demographic_types": "ownershipDemographicTypes"}
# A key that carries them, wherever CRF nests it: its name holds one of these words…
_SENSITIVE_KEY = re.compile("demographic", re.IGNORECASE)
# … or its value holds one of the field's values ("Other" is too common to tell anything).
_SENSITIVE_VALUES = frozenset(
    value.casefold() for value in OwnershipDemographic.values if value != OwnershipDemographic.OTHER
)
RESTRICTED_PROBLEMS, RESTRICTED_EXTRA = "problems", "extra"


def may_see(user) -> bool:
    """None is the shell (export_leads asks with --with-demographics)."""
    return user is None or user.has_perm(DEMOGRAPHICS_PERMISSION)


def is_sensitive_path(path: str) -> bool:
    """A problem's field or an unknown key's path (`businessAddress.ownershipDemographicTypes`)."""
    return bool(_SENSITIVE_KEY.search(path))


def carries_sensitive(value: Any) -> bool:
    """Whether a value sent under an unknown key holds a sensitive key or value, however nested."""
    if isinstance(value, str):
        return value.casefold() in _SENSITIVE_VALUES
    if isinstance(value, list):
        return any(carries_sensitive(item) for item in value)
    if isinstance(value, dict):
        return any(is_sensitive_path(key) or carries_sensitive(item) for key, item in value.items())
    return False


def split(problems: list[dict], extra: dict) -> dict[str, Any]:
    """A lead's bookkeeping: problems and unknown keys for everyone, and what concerns the
    sensitive fields apart, in `restricted`, shown only to who may see it."""
    restricted_problems = [p for p in problems if is_sensitive_path(p.get("field", ""))]
    restricted_extra = {
        key: value
        for key, value in extra.items()
        if is_sensitive_path(key) or carries_sensitive(value)
    }
    restricted = {}
    if restricted_problems:
        restricted[RESTRICTED_PROBLEMS] = restricted_problems
    if restricted_extra:
        restricted[RESTRICTED_EXTRA] = restricted_extra
    return {
        "data_problems": [p for p in problems if p not in restricted_problems],
        "extra": {key: value for key, value in extra.items() if key not in restricted_extra},
        "restricted": restricted,
    }
