from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from mutualaid.accounts.models import User
from mutualaid.aid.forms import BoundedModelChoiceField
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
