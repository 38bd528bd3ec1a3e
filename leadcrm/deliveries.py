"""What every inbound delivery (CRF leads, CRS alert batches) shares: the raw request, kept as it came."""

import json
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils import timezone

# Never stored: they carry credentials (the configured secret header is dropped as well).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def stored_headers(headers, secret_header: str = "") -> dict[str, str]:
    """The request headers minus every header that can carry a credential."""
    drop = CREDENTIAL_HEADERS | {secret_header.lower()}
    return {
        name: value.replace("\x00", "")
        for name, value in headers.items()
        if name.lower() not in drop
    }


def json_safe(value: Any) -> Any:
    """JSON as a partner sent it, storable anywhere: no NUL characters (PostgreSQL's jsonb cannot
    hold them), exact decimals back to plain numbers."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    return value


class RawDelivery(models.Model):
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    # Bytes, exactly as sent: the body may not be UTF-8, may not be JSON, may hold NULs.
    body = models.BinaryField()
    headers = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")

    def pretty_body(self) -> str:
        try:
            return json.dumps(json.loads(bytes(self.body)), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
            return self.body_text
