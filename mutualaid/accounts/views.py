import unicodedata

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, PasswordResetView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from mutualaid.accounts.forms import (
    DeleteAccountForm,
    PersonalDetailsForm,
    ServicePasswordResetForm,
    SignUpForm,
)
from mutualaid.accounts.two_factor import is_enrolled
from mutualaid.aid.personal_data import account_delete, personal_data_export
from mutualaid.limits import request_is_limited, too_many_message
from notifications.push import push_is_configured


def signup(request: HttpRequest) -> HttpResponse:
    # The language the person is reading the page in, not the model's default.
    page_language = translation.get_supported_language_variant(translation.get_language() or "nl")
    form = SignUpForm(request.POST or None, initial={"preferred_language": page_language})
    if request.method == "POST" and request_is_limited(request, "signup"):
        form.is_valid()
        form.add_error(None, too_many_message())
        return render(request, "registration/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        translation.activate(user.preferred_language)
        messages.success(request, _("Welcome! You can now ask for help or offer it."))
        return in_their_language(redirect("home"), user)
    return render(request, "registration/signup.html", {"form": form})


def in_their_language(response: HttpResponse, person) -> HttpResponse:
    """The pages follow the language a person chose for themselves (as the language menu does)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        person.preferred_language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
    )
    return response


def login_name_key(group: str, request: HttpRequest) -> str:
    """The rate-limit key of the username being tried, as the login form will read it.

    The form strips spaces and NFKC-normalises ("citizen " and its fullwidth spelling log in as
    "citizen"), so the raw text would give a guesser a fresh count with every variant.
    Case is folded too: more spellings share one count, never fewer.
    """
    username = request.POST.get("username", "")
    return unicodedata.normalize("NFKC", username).strip().casefold()[:150]


class RateLimitedLoginView(LoginView):
    """Django's login, with a limit on attempts per address and per username."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        by_address = request_is_limited(request, "login", key="ip")
        by_username = request_is_limited(request, "login", key=login_name_key)
        if by_address or by_username:
            # An unbound form: validating would check the password and tell a guesser
            # whether it was right even while they are locked out.
            form = self.get_form_class()(
                request, initial={"username": request.POST.get("username", "")[:150]}
            )
            context = self.get_context_data(form=form, too_many=too_many_message())
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)


def reset_address_key(group: str, request: HttpRequest) -> str:
    """The rate-limit key of the e-mail address a reset is asked for (as the form compares it)."""
    return request.POST.get("email", "").strip().casefold()[:254]


class RateLimitedPasswordResetView(PasswordResetView):
    """Django's password reset, with a limit per address and per e-mail address, so that
    nobody can fill a person's mailbox with reset links; the mail is the service's own."""

    form_class = ServicePasswordResetForm
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        by_address = request_is_limited(request, "password_reset", key="ip")
        by_email = request_is_limited(request, "password_reset", key=reset_address_key)
        if by_address or by_email:
            form = self.get_form_class()(initial={"email": request.POST.get("email", "")[:254]})
            context = self.get_context_data(form=form, too_many=too_many_message())
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The person's own data: change their details, download it, or delete the account."""
    # Two forms on the page: only deleting asks for the password.
    deleting = request.method == "POST" and "password" in request.POST
    saving = request.method == "POST" and not deleting
    details_form = PersonalDetailsForm(request.POST if saving else None, instance=request.user)
    form = DeleteAccountForm(request.user, request.POST if deleting else None)
    if saving and details_form.is_valid():
        person = details_form.save()
        translation.activate(person.preferred_language)
        messages.success(request, _("Your details are saved."))
        return in_their_language(redirect("account"), person)
    if deleting and form.is_valid():
        account_delete(person=request.user)
        logout(request)
        messages.success(request, _("Your account is deleted and your personal data removed."))
        return redirect("home")
    if not saving:
        details_form = PersonalDetailsForm(instance=request.user)
    return render(
        request,
        "accounts/account.html",
        {
            "form": form,
            "details_form": details_form,
            # The browser's key for push subscriptions; empty when push is not set up.
            "push_public_key": settings.VAPID_PUBLIC_KEY if push_is_configured() else "",
            "two_factor_enrolled": is_enrolled(request.user),
        },
    )


@login_required
def account_data(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(personal_data_export(request.user), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="my-data-{request.user.username}.json"'
    response["Cache-Control"] = "no-store"
    return response
