from functools import cache

from django.conf import settings
from django.http import HttpRequest

from mutualaid.aid.identity import DEFAULT_ACCENT_COLOUR, help_line_hours, versioned_url
from mutualaid.aid.models import Community


def map_settings(request: HttpRequest) -> dict:
    return {"map_tile_url": settings.MAP_TILE_URL}


def community_identity(request: HttpRequest) -> dict:
    """The reader's community, for its name, logo, colour and help line on every page.

    A signed-in person's own community; for anyone else the deployment's only community, if
    it has exactly one (with several we cannot know which one a visitor means). Each value is
    computed only when a template shows it, and at most once per page.
    """

    @cache
    def community() -> Community | None:
        own = getattr(request.user, "community", None)
        if own is not None:
            return own
        only = list(Community.objects.all()[:2])
        return only[0] if len(only) == 1 else None

    def phone() -> str:
        return community().contact_phone if community() else ""

    def hours() -> str:
        return help_line_hours(community()) if community() else ""

    def colours_url() -> str:
        """Only for a colour of its own: the default is in site.css, one request fewer."""
        if community() is None or community().accent_colour.lower() == DEFAULT_ACCENT_COLOUR:
            return ""
        return versioned_url("community-colours", community())

    def logo_url() -> str:
        return (
            versioned_url("community-logo", community())
            if community() and community().logo_content_type
            else ""
        )

    return {
        "reader_community": community,
        "help_line_phone": phone,
        "help_line_hours": hours,
        "community_colours_url": colours_url,
        "community_logo_url": logo_url,
    }
