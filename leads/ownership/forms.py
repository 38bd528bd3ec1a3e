"""What an officer logs about working a lead."""

from django import forms

from leads.choices import ActivityKind, ActivityOutcome


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label="What", choices=ActivityKind.choices)
    outcome = forms.ChoiceField(label="Outcome", choices=ActivityOutcome.choices)
    note = forms.CharField(
        label="Note", required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )
    next_action_at = forms.DateTimeField(
        label="Next action",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="When to follow up (leave empty when nothing is planned).",
    )

    def clean_note(self):
        note = self.cleaned_data["note"].strip()
        if "\x00" in note:
            raise forms.ValidationError("A note cannot contain a NUL character.")
        return note

    def summary(self) -> str:
        data = self.cleaned_data
        text = (
            f"{ActivityKind(data['kind']).label}, {ActivityOutcome(data['outcome']).label.lower()}"
        )
        if data.get("next_action_at"):
            text += f"; next action {data['next_action_at']:%Y-%m-%d %H:%M}"
        return text
