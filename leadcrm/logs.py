"""Log records and error reports without credentials: SAS signatures (`sig=`) are taken out of
every line a handler writes and of the settings an error report lists."""

import logging
import re

from django.views.debug import SafeExceptionReporterFilter

REDACTED = "REDACTED"
# The signature however it is quoted: `sig=…` in a URL, `sig%3D…` in a URL inside another one.
_SIGNATURE = re.compile(r"(?i)(sig(?:=|%3D))[^&\s'\"<>]+")


def redact(text: str) -> str:
    return _SIGNATURE.sub(rf"\g<1>{REDACTED}", text)


class RedactSignatures(logging.Filter):
    """Takes SAS signatures out of every record a handler writes.

    LeadCRM never logs a SAS URL itself; this is for libraries that put request URLs in their
    messages and exceptions (urllib3, azure-core) at whatever level someone turns on.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler to report
            return True
        if "sig" in message.lower():
            record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RedactingReporterFilter(SafeExceptionReporterFilter):
    """Django's debug page and error reports list the settings: the SAS URLs go without their
    signature (Django hides settings by name, and CRF_AZURE_QUEUE_URL names no secret)."""

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        # str(): some settings are lazy strings (django-axes'), which re cannot read.
        return redact(str(value)) if isinstance(value, str) else value
