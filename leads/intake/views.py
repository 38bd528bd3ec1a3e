from django.conf import settings
from django.http import JsonResponse

from leadcrm.deliveries import stored_headers
from leadcrm.webhooks import WebhookView, database_errors_as_503, read_body, require_header_secret

from . import services


class CRFLeadWebhookView(WebhookView):
    """POST one CRF Connect lead (docs/contract.md#5-crf-lead-intake). HTTP only: the work is in
    `services.receive_lead`. Content-Type is not trusted: the raw body is parsed as JSON."""

    def authenticate(self, request):
        require_header_secret(request)

    def post(self, request):
        body = read_body(request, settings.CRF_MAX_BODY_BYTES)
        headers = stored_headers(request.headers)
        with database_errors_as_503():
            receipt = services.receive_lead(body, headers=headers)
        delivery = receipt.delivery
        if receipt.invalid:
            invalid = receipt.invalid
            return JsonResponse(
                {
                    "error": invalid.code,
                    "detail": invalid.detail,
                    "fields": invalid.fields,
                    "delivery": delivery.pk,
                },
                status=400,
            )
        return JsonResponse(
            {
                "id": str(delivery.lead_id),
                "delivery": delivery.pk,
                "warnings": delivery.warnings,
                "duplicate": receipt.duplicate,
            },
            status=202,
        )
