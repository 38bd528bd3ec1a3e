from django.contrib import admin
from django.urls import path

from alerts.views import CRSAlertWebhookView
from leads.views import CRFLeadWebhookView
from leads.views_dashboard import dashboard_view

from .views import healthz

admin.site.site_header = "LeadCRM"
admin.site.site_title = "LeadCRM"
admin.site.index_title = "Workspace"

urlpatterns = [
    path("webhooks/crf/leads/", CRFLeadWebhookView.as_view(), name="crf-leads-webhook"),
    path("webhooks/crs/alerts/", CRSAlertWebhookView.as_view(), name="crs-alerts-webhook"),
    path("healthz/", healthz, name="healthz"),
    # Before the admin's own URLs, whose catch-all would answer it with a 404.
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path("admin/", admin.site.urls),
]

handler400 = "leadcrm.errors.bad_request"
handler403 = "leadcrm.errors.permission_denied"
handler404 = "leadcrm.errors.page_not_found"
handler500 = "leadcrm.errors.server_error"
