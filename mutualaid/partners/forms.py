"""Forms of the partner pages: registering an organisation, inviting and joining as a
referrer, and a referrer's request for a neighbour (the phone intake's fields)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from mutualaid.aid.forms import HelpRequestForm, PhoneIntakeForm
from notifications.channels.sms import is_mobile


class OrganisationForm(forms.Form):
    name = forms.CharField(
        label=_("Organisation"),
        max_length=120,
        help_text=_("A GP practice, a social service, an association: whoever refers neighbours to us."),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label=_("Referrer's e-mail"),
        max_length=150,  # it becomes their user name
        help_text=_("They receive a link to set their name and password; it works for 14 days."),
    )


class JoinForm(forms.Form):
    """What the invited person sets on accepting: their name and a password."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict:
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            try:
                password_validation.validate_password(first)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class ReferralForm(PhoneIntakeForm):
    """The phone intake's fields, for a neighbour, and their consent. No search for other
    requests of the same phone: a referrer sees no requests but their organisation's."""

    consent = forms.BooleanField(
        label=_("The neighbour agrees that we pass their request, name and phone to a volunteer"),
        error_messages={"required": _("Only with the neighbour's consent: ask them first.")},
    )

    field_order = [
        "contact_name",
        "contact_phone",
        "text_caller",
        "address",
        "category",
        "description",
        "urgency",
        "any_time",
    ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["file_anyway"]
        self.fields["contact_name"].label = _("Neighbour's name")
        self.fields["contact_phone"].label = _("Neighbour's phone")
        self.fields["text_caller"].label = _("Text the neighbour when someone is coming")

    def clean(self) -> dict:
        data = HelpRequestForm.clean(self)
        if data.get("text_caller") and data.get("contact_phone") and not is_mobile(data["contact_phone"]):
            self.add_error("text_caller", _("Texts go only to a mobile number."))
        return data
