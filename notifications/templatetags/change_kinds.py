from django import template
from django.utils.html import json_script

from notifications.kinds import for_page_script

register = template.Library()


@register.simple_tag
def change_kinds_script() -> str:
    """The change kinds as a JSON script tag the page script reads (id "change-kinds")."""
    return json_script(for_page_script(), "change-kinds")
