from django.conf import settings
from rest_framework.response import Response
from rest_framework.views import APIView

from leadcrm.deliveries import stored_headers
from leadcrm.webhooks import (
    AnswerInJSON,
    HeaderSecretAuthentication,
    database_errors_as_503,
    read_body,
)

from . import services


class CRFLeadWebhookView(APIView):
    """POST one CRF Connect lead (docs/contract.md#5-crf-lead-intake). HTTP only: the work is in
    `services.receive_lead`."""

    authentication_classes = [HeaderSecretAuthentication]
    content_negotiation_class = AnswerInJSON
    parser_classes = []  # Content-Type is not trusted: the raw body is parsed as JSON

    def post(self, request):
        body = read_body(request, settings.CRF_MAX_BODY_BYTES)
        headers = stored_headers(request.headers)
        with database_errors_as_503():
            receipt = services.receive_lead(body, headers=headers)
        delivery = receipt.delivery
        if receipt.invalid:
            invalid = receipt.invalid
            return Response(
                {
                    "error": invalid.code,
                    "detail": invalid.detail,
                    "fields": invalid.fields,
                    "delivery": delivery.pk,
                },
                status=400,
            )
        return Response(
            {
                "id": str(delivery.lead_id),
                "delivery": delivery.pk,
                "warnings": delivery.warnings,
                "duplicate": receipt.duplicate,
            },
            status=202,
        )
