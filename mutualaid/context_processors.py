from functools import cache

from django.conf import settings
from django.http import HttpRequest

from mutualaid.aid.models import Community


def map_settings(request: HttpRequest) -> dict:
    return {"map_tile_url": settings.MAP_TILE_URL}


def help_line(request: HttpRequest) -> dict:
    """The phone line of the reader's community, for "no internet? call..." texts.

    A signed-in person's own community; for anyone else the deployment's only line, if it
    has exactly one (with several communities we cannot know which one a visitor means).
    Computed only when a template shows it.
    """

    @cache
    def phone() -> str:
        community = getattr(request.user, "community", None)
        if community is not None:
            return community.contact_phone
        phones = list(Community.objects.exclude(contact_phone="").values_list("contact_phone", flat=True)[:2])
        return phones[0] if len(phones) == 1 else ""

    return {"help_line_phone": phone}
