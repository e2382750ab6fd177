from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from mutualaid.accounts.models import User
from mutualaid.aid.forms import BoundedModelChoiceField
from mutualaid.aid.identity import email_signature
from mutualaid.aid.models import Community
from notifications.channels.sms import is_mobile


class SignUpForm(UserCreationForm):
    community = BoundedModelChoiceField(
        label=_("Your town or neighbourhood"), queryset=Community.objects.all(), empty_label=None
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = (
            "username",
            "first_name",
            "last_name",
            "email",
            "phone",
            "community",
            "preferred_language",
            "email_notifications",
        )
        labels = {"first_name": _("First name"), "last_name": _("Last name")}


class PersonalDetailsForm(forms.ModelForm):
    """What a person may change about themselves: name, contact, language, e-mails."""

    class Meta:
        model = User
        fields = (
            "first_name",
            "last_name",
            "email",
            "phone",
            "preferred_language",
            "email_notifications",
            "sms_notifications",
        )
        labels = {"first_name": _("First name"), "last_name": _("Last name")}

    def clean(self) -> dict:
        data = super().clean()
        if data.get("sms_notifications") and not (data.get("phone") and is_mobile(data["phone"])):
            self.add_error("sms_notifications", _("Give a mobile number first: texts go only to one."))
        return data


class DeleteAccountForm(forms.Form):
    password = forms.CharField(label=_("Your password, to confirm"), widget=forms.PasswordInput)

    def __init__(self, person: User, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.person = person

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.person.check_password(password):
            raise forms.ValidationError(_("That is not your password."))
        return password


class ServicePasswordResetForm(PasswordResetForm):
    """Django's reset, with the service's own mail: its link on SITE_URL (never the Host
    header a stranger sent), in the person's language, signed by their community."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict,
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        person = context["user"]
        context["site_url"] = settings.SITE_URL
        context["days"] = max(1, settings.PASSWORD_RESET_TIMEOUT // (24 * 3600))
        with translation.override(person.preferred_language):
            context["signature"] = email_signature(person.community) if person.community else ""
            super().send_mail(
                subject_template_name,
                email_template_name,
                context,
                from_email,
                to_email,
                html_email_template_name,
            )


class OneTimeCodeForm(forms.Form):
    """The six digits an authenticator app shows (browsers and phones may fill them in)."""

    otp_token = forms.CharField(
        label=_("Six-digit code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*"}
        ),
    )


class RecoveryCodeForm(forms.Form):
    """One of the recovery codes shown at enrolment, for a lost or forgotten phone."""

    recovery_code = forms.CharField(
        label=_("Recovery code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
