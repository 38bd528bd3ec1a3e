"""Ownership in the lead list: whose lead, untouched and overdue, follow-ups (filters), and
taking, giving and releasing leads (actions, through leads.ownership.services)."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import ngettext

from leads.ownership import services, worklist


class OfficerFilter(admin.SimpleListFilter):
    title = "assigned officer"
    parameter_name = "officer"

    def lookups(self, request, model_admin):
        return [("me", "My leads"), ("none", "Unassigned")] + [
            (str(user.pk), user.get_full_name() or user.get_username())
            for user in services.officers()
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assigned_officer=request.user)
        if value == "none":
            return queryset.filter(assigned_officer=None)
        if value and value.isdigit():
            return queryset.filter(assigned_officer_id=int(value))
        return queryset


class FirstContactFilter(admin.SimpleListFilter):
    title = "first contact"
    parameter_name = "contact"

    def lookups(self, request, model_admin):
        return [
            ("untouched", "Not yet (open leads)"),
            ("overdue", f"Overdue (over {worklist.target().total_seconds() / 3600:g} h)"),
            ("contacted", "Made"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "untouched":
            return worklist.untouched(queryset)
        if self.value() == "overdue":
            return worklist.overdue(queryset)
        if self.value() == "contacted":
            return queryset.exclude(first_contact_at=None)
        return queryset


class FollowUpFilter(admin.SimpleListFilter):
    title = "follow-up"
    parameter_name = "follow_up"

    def lookups(self, request, model_admin):
        return [
            ("due", "Due today or earlier"),
            ("overdue", "Overdue (before today)"),
            ("planned", "Planned"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "due":
            return worklist.follow_ups_due(queryset, now)
        if self.value() == "overdue":
            return queryset.filter(next_action_at__lt=worklist.end_of_day(now) - timedelta(days=1))
        if self.value() == "planned":
            return queryset.exclude(next_action_at=None)
        return queryset


class GiveForm(forms.Form):
    officer = forms.ModelChoiceField(
        queryset=services.officers(), required=False, empty_label="— nobody (unassign) —"
    )


@admin.action(description="Take selected leads (assign to me)", permissions=["assign"])
def take_selected(modeladmin, request, queryset):
    count = services.take(queryset, request.user)
    skipped = queryset.count() - count
    modeladmin.message_user(
        request, ngettext("You took %d lead.", "You took %d leads.", count) % count
    )
    if skipped and not request.user.has_perm("leads.reassign_lead"):
        already = queryset.exclude(assigned_officer=request.user).exclude(assigned_officer=None)
        if already.exists():
            modeladmin.message_user(
                request,
                "Leads a colleague owns were left with them: taking those needs a lending manager.",
                messages.WARNING,
            )


@admin.action(description="Release selected leads (unassign)", permissions=["assign"])
def release_selected(modeladmin, request, queryset):
    count = services.release(queryset, request.user)
    modeladmin.message_user(
        request, ngettext("Unassigned %d lead.", "Unassigned %d leads.", count) % count
    )


@admin.action(description="Assign selected leads to an officer…", permissions=["reassign"])
def give_selected(modeladmin, request, queryset):
    form = GiveForm(request.POST if "give" in request.POST else None)
    if form.is_valid():
        officer = form.cleaned_data["officer"]
        count = services.give(queryset, officer, request.user)
        to = officer.get_full_name() or officer.get_username() if officer else "nobody"
        modeladmin.message_user(
            request,
            ngettext("Assigned %(n)d lead to %(to)s.", "Assigned %(n)d leads to %(to)s.", count)
            % {"n": count, "to": to},
        )
        return None
    return TemplateResponse(
        request,
        "admin/leads/lead/give.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Assign leads to an officer",
            "form": form,
            "leads": queryset[:50],
            "count": queryset.count(),
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "opts": modeladmin.model._meta,
        },
    )
