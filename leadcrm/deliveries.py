"""What every inbound delivery (CRF leads, CRS alert batches) shares: the raw request, kept as it
came."""

import json
import re

from django.conf import settings
from django.db import models
from django.utils import timezone

# Never stored: a header whose name says it may carry a credential. By pattern, not by a list:
# X-Forwarded-Authorization, Ocp-Apim-Subscription-Key's cousins, X-Amz-Security-Token, … A header
# that only looks like one is lost from the record, which costs nothing.
CREDENTIAL_HEADER = re.compile(
    r"auth|cookie|api.?key|token|secret|signature|passw|credential|session", re.IGNORECASE
)


def stored_headers(headers) -> dict[str, str]:
    """The request headers minus every header that can carry a credential, on every endpoint:
    the credential patterns, and the header CRF sends its secret in, whatever it is named."""
    secret_header = settings.CRF_WEBHOOK_HEADER.lower()
    return {
        name: value.replace("\x00", "")
        for name, value in headers.items()
        if not CREDENTIAL_HEADER.search(name) and name.lower() != secret_header
    }


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
        """The body as it came, indented when it is JSON; lone surrogates shown as escapes (a
        page cannot be encoded with them)."""
        try:
            text = json.dumps(json.loads(bytes(self.body)), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
            return self.body_text
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
