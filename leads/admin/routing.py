"""Routing rules, for managers: ordered conditions and a pool of officers each
(leads.ownership.services.route applies them to new leads)."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html_join

from leads.models import RoutingRule
from leads.ownership import services


class RoutingRuleForm(forms.ModelForm):
    class Meta:
        model = RoutingRule
        fields = [
            "name",
            "position",
            "active",
            "matched_product",
            "product_set",
            "service_partner",
            "lead_source",
            "business_state",
            "min_amount",
            "max_amount",
            "officers",
        ]
        help_texts = {"officers": "New leads go round-robin to the active ones among them."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["officers"].queryset = services.officers()

    def clean_business_state(self):
        return self.cleaned_data["business_state"].strip().upper()

    def clean(self):
        data = super().clean()
        low, high = data.get("min_amount"), data.get("max_amount")
        if low is not None and high is not None and low > high:
            self.add_error("max_amount", "The largest amount is below the smallest.")
        return data


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    list_display = ["position", "name", "active", "conditions", "pool", "turns"]
    list_display_links = ["name"]
    list_editable = ["position", "active"]
    filter_horizontal = ["officers"]
    fieldsets = [
        (None, {"fields": ["name", "position", "active"]}),
        (
            "Leads it takes (empty: any)",
            {
                "fields": [
                    "matched_product",
                    "product_set",
                    "service_partner",
                    "lead_source",
                    "business_state",
                    ("min_amount", "max_amount"),
                ]
            },
        ),
        ("Who gets them", {"fields": ["officers"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("matched_product", "product_set", "service_partner", "lead_source")
            .prefetch_related("officers")
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # switch a rule off instead: its assignments keep naming it

    @admin.display(description="Conditions")
    def conditions(self, rule: RoutingRule) -> str:
        parts = [
            f"{label}: {value}"
            for label, value in (
                ("product", rule.matched_product),
                ("product set", rule.product_set),
                ("service partner", rule.service_partner),
                ("lead source", rule.lead_source),
                ("state", rule.business_state),
            )
            if value
        ]
        if rule.min_amount is not None or rule.max_amount is not None:
            low = f"${rule.min_amount:,.0f}" if rule.min_amount is not None else "any"
            high = f"${rule.max_amount:,.0f}" if rule.max_amount is not None else "any"
            parts.append(f"amount {low}–{high}")
        return "; ".join(parts) or "every lead"

    @admin.display(description="Officers")
    def pool(self, rule: RoutingRule):
        return format_html_join(
            ", ",
            "{}{}",
            (
                (o.get_full_name() or o.get_username(), "" if o.is_active else " (inactive)")
                for o in rule.officers.all()
            ),
        )
