"""The coordinators' waiting list of volunteers: close sign-ups to it, let people in."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from mutualaid.aid import selectors, services

PAGE_SIZE = 50


class LetInFirstForm(forms.Form):
    how_many = forms.IntegerField(
        label=gettext_lazy("How many, first come first"), min_value=1, max_value=500
    )


def _community(request: HttpRequest):
    return selectors.community_for_coordinator(request.user, request.GET.get("community"))


def _back(request: HttpRequest) -> HttpResponse:
    slug = request.GET.get("community")
    return redirect(reverse("coordinator-waiting-list") + (f"?community={slug}" if slug else ""))


@login_required
@require_GET
def waiting_list(request: HttpRequest) -> HttpResponse:
    community = _community(request)
    page = Paginator(services.waiting_volunteers(community), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "aid/coordinator/waiting_list.html",
        {"community": community, "page": page, "first": page.start_index(), "form": LetInFirstForm()},
    )


@login_required
@require_POST
def waiting_list_switch(request: HttpRequest) -> HttpResponse:
    community = _community(request)
    on = request.POST.get("on") == "1"
    services.community_set_volunteer_waiting_list(community=community, coordinator=request.user, on=on)
    messages.success(
        request,
        _("New volunteers now join the waiting list.")
        if on
        else _("Sign-ups are open: new volunteers get proposals at once."),
    )
    return _back(request)


@login_required
@require_POST
def waiting_list_let_in(request: HttpRequest) -> HttpResponse:
    community = _community(request)
    if "how_many" in request.POST:
        form = LetInFirstForm(request.POST)
        if not form.is_valid():
            page = Paginator(services.waiting_volunteers(community), PAGE_SIZE).get_page(1)
            return render(
                request,
                "aid/coordinator/waiting_list.html",
                {"community": community, "page": page, "first": page.start_index(), "form": form},
                status=400,
            )
        let_in = services.volunteers_let_in_first(
            community=community, coordinator=request.user, how_many=form.cleaned_data["how_many"]
        )
    else:
        ids = [int(value) for value in request.POST.getlist("volunteer") if value.isdigit()]
        let_in = services.volunteers_let_in(community=community, coordinator=request.user, volunteer_ids=ids)
    if let_in:
        messages.success(
            request,
            ngettext(
                "%(count)d volunteer let in: they are told by e-mail.",
                "%(count)d volunteers let in: they are told by e-mail.",
                len(let_in),
            )
            % {"count": len(let_in)},
        )
    else:
        messages.warning(request, _("No one was let in: choose volunteers who are on the list."))
    return _back(request)
