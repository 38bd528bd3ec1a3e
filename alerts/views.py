from django.conf import settings
from rest_framework.response import Response
from rest_framework.views import APIView

from leadcrm.deliveries import stored_headers
from leadcrm.webhooks import (
    AnswerInJSON,
    BasicCredentialsAuthentication,
    database_errors_as_503,
    read_body,
)

from . import services


class CRSAlertWebhookView(APIView):
    """POST a CRS notification batch (docs/contract.md#7-crs-alert-intake); answered item by item,
    in order."""

    authentication_classes = [BasicCredentialsAuthentication]
    content_negotiation_class = AnswerInJSON
    parser_classes = []  # the raw body is stored first, then read

    def post(self, request):
        body = read_body(request, settings.CRS_MAX_BODY_BYTES)
        with database_errors_as_503():
            receipt = services.receive_alerts(body, headers=stored_headers(request.headers))
        if receipt.invalid:
            return Response(
                {
                    "error": receipt.invalid.code,
                    "detail": receipt.invalid.detail,
                    "delivery": receipt.delivery.pk,
                },
                status=400,
            )
        return Response(receipt.answers, status=200)
