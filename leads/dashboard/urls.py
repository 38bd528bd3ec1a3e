from django.contrib import admin
from django.urls import path

from .views import dashboard_view

# Mounted under admin/ (before the admin's own URLs, whose catch-all would answer it with a 404).
urlpatterns = [path("", admin.site.admin_view(dashboard_view), name="admin-dashboard")]
