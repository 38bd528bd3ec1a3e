"""Partners, products and product sets, as CRF sent them."""

from django.contrib import admin

from leadcrm.admin import ViewOnly
from leads.models import Partner, Product, ProductSet


@admin.register(Partner)
class PartnerAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["name", "route", "crf_id"]
    search_fields = ["name"]
    readonly_fields = ["crf_id"]


@admin.register(Product)
class ProductAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["name", "kind", "loan_type", "collateral_type", "payment_frequency", "crf_id"]
    search_fields = ["name"]
    readonly_fields = ["crf_id"]


@admin.register(ProductSet)
class ProductSetAdmin(ViewOnly, admin.ModelAdmin):
    list_display = ["name", "crf_id"]
    search_fields = ["name"]
    readonly_fields = ["crf_id"]
