from django.conf import settings
from django.http import HttpRequest


def map_settings(request: HttpRequest) -> dict:
    return {"map_tile_url": settings.MAP_TILE_URL}
