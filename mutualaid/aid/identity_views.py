"""A community's identity: its coordinators' page, and the colours and logo every page loads."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from mutualaid.aid import selectors, services
from mutualaid.aid.forms import CommunityIdentityForm
from mutualaid.aid.identity import versioned_url
from mutualaid.aid.models import Community
from mutualaid.aid.services.identity import KEEP_LOGO

# The pages ask for them with ?v=<when they changed>: a changed identity is a new address.
A_YEAR = 365 * 24 * 3600


@login_required
def community_identity_edit(request: HttpRequest) -> HttpResponse:
    community = selectors.community_for_coordinator(request.user, request.GET.get("community"))
    form = CommunityIdentityForm(request.POST or None, request.FILES or None, instance=community)
    if request.method == "POST" and form.is_valid():
        logo, content_type = KEEP_LOGO, ""
        if form.cleaned_data["logo_file"]:
            logo, content_type = form.cleaned_data["logo_file"]
        elif form.cleaned_data["remove_logo"]:
            logo = None
        services.community_identity_update(
            coordinator=request.user,
            community=community,
            changes={field: form.cleaned_data[field] for field in form.Meta.fields},
            logo=logo,
            logo_content_type=content_type,
        )
        messages.success(
            request, _("Saved: every page and e-mail of %(name)s now shows it.") % {"name": community}
        )
        return redirect(request.get_full_path())
    if request.method == "POST":
        # A rejected form keeps what the database holds on screen (the header, the logo).
        community.refresh_from_db()
    logo_url = versioned_url("community-logo", community) if community.logo_content_type else ""
    return render(
        request, "aid/coordinator/identity.html", {"form": form, "community": community, "logo_url": logo_url}
    )


@require_GET
def community_colours(request: HttpRequest, slug: str) -> HttpResponse:
    community = get_object_or_404(Community.objects.only("accent_colour"), slug=slug)
    response = HttpResponse(f":root {{ --accent: {community.accent_colour}; }}\n", content_type="text/css")
    response["Cache-Control"] = f"public, max-age={A_YEAR}, immutable"
    return response


@require_GET
def community_logo(request: HttpRequest, slug: str) -> HttpResponse:
    community = get_object_or_404(Community.objects.only("logo", "logo_content_type"), slug=slug)
    if not community.logo:
        raise Http404
    response = HttpResponse(bytes(community.logo), content_type=community.logo_content_type)
    response["Cache-Control"] = f"public, max-age={A_YEAR}, immutable"
    return response
