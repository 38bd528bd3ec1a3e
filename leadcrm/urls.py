from django.contrib import admin
from django.urls import path

from alerts.views import CRSAlertWebhookView
from leads.views import CRFLeadWebhookView

from .views import healthz

admin.site.site_header = "LeadCRM"
admin.site.site_title = "LeadCRM"
admin.site.index_title = "Workspace"

urlpatterns = [
    path("webhooks/crf/leads/", CRFLeadWebhookView.as_view(), name="crf-leads-webhook"),
    path("webhooks/crs/alerts/", CRSAlertWebhookView.as_view(), name="crs-alerts-webhook"),
    path("healthz/", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]

handler400 = "leadcrm.errors.bad_request"
handler403 = "leadcrm.errors.permission_denied"
handler404 = "leadcrm.errors.page_not_found"
handler500 = "leadcrm.errors.server_error"
