from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from mutualaid.accounts.forms import DeleteAccountForm, SignUpForm
from mutualaid.aid.personal_data import account_delete, personal_data_export
from mutualaid.limits import request_is_limited, too_many_message


def signup(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and request_is_limited(request, "signup"):
        form.is_valid()
        form.add_error(None, too_many_message())
        return render(request, "registration/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome! You can now ask for help or offer it."))
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


class RateLimitedLoginView(LoginView):
    """Django's login, with a limit on attempts per address and per username."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        by_address = request_is_limited(request, "login", key="ip")
        by_username = request_is_limited(request, "login", key="post:username")
        if by_address or by_username:
            # An unbound form: validating would check the password and tell a guesser
            # whether it was right even while they are locked out.
            form = self.get_form_class()(
                request, initial={"username": request.POST.get("username", "")[:150]}
            )
            context = self.get_context_data(form=form, too_many=too_many_message())
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The person's own data: download it, or delete the account."""
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        account_delete(person=request.user)
        logout(request)
        messages.success(request, _("Your account is deleted and your personal data removed."))
        return redirect("home")
    return render(request, "accounts/account.html", {"form": form})


@login_required
def account_data(request: HttpRequest) -> JsonResponse:
    response = JsonResponse(personal_data_export(request.user), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="my-data-{request.user.username}.json"'
    response["Cache-Control"] = "no-store"
    return response
