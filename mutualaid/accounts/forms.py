from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from mutualaid.accounts.models import User
from mutualaid.aid.models import Community


class SignUpForm(UserCreationForm):
    community = forms.ModelChoiceField(
        label=_("Your town or neighbourhood"), queryset=Community.objects.all(), empty_label=None
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "first_name", "last_name", "email", "phone", "community", "preferred_language")
        labels = {"first_name": _("First name"), "last_name": _("Last name")}
