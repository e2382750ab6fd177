"""The coordinators' page for their community's API keys: make one (shown once), revoke."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from mutualaid.aid import selectors
from mutualaid.partners import services
from mutualaid.partners.models import ApiKey


class ApiKeyForm(forms.Form):
    organisation = forms.CharField(
        label=gettext_lazy("Organisation"),
        max_length=120,
        help_text=gettext_lazy(
            "Who will use the key, e.g. the city's 311 desk. A new name makes a new partner."
        ),
    )


def _community(request: HttpRequest):
    return selectors.community_for_coordinator(request.user, request.GET.get("community"))


@login_required
def api_keys(request: HttpRequest) -> HttpResponse:
    community = _community(request)
    form = ApiKeyForm(request.POST or None)
    token = None
    if request.method == "POST" and form.is_valid():
        organisation = services.organisation_get_or_create(
            community=community, name=form.cleaned_data["organisation"]
        )
        if organisation.is_active:
            _key, token = services.api_key_create(organisation=organisation, created_by=request.user)
            form = ApiKeyForm()
        else:
            form.add_error("organisation", _("This organisation is deactivated: it gets no keys."))
    keys = ApiKey.objects.filter(organisation__community=community).select_related(
        "organisation", "created_by"
    )
    return render(
        request,
        "partners/api_keys.html",
        {"community": community, "form": form, "token": token, "keys": keys},
    )


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = ApiKey.objects.select_related("organisation").filter(pk=key_id).first()
    if key is None or not selectors.is_coordinator_of(request.user, key.organisation.community_id):
        raise Http404
    services.api_key_revoke(key=key, actor=request.user)
    messages.success(request, _("Key %(prefix)s… revoked.") % {"prefix": key.prefix})
    return redirect("coordinator-api-keys")
