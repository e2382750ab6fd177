"""A city's identity: its service's name, logo, colour and help line hours.

The colour is checked against WCAG 2.2's contrast rule (1.4.3, 4.5:1 for text): it is the
header's background under white text and the colour of links on white, so one ratio, against
white, covers both.
"""

from __future__ import annotations

import io
import re

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, UnidentifiedImageError

DEFAULT_ACCENT_COLOUR = "#0b5394"
MINIMUM_CONTRAST = 4.5
LOGO_MAX_BYTES = 200 * 1024
LOGO_MAX_PIXELS = 1200
# What browsers show in an <img> without any script in it (no SVG: it can carry script).
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}

_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def relative_luminance(colour: str) -> float:
    """WCAG's relative luminance of an sRGB colour written #rrggbb."""
    channels = [int(colour[index : index + 2], 16) / 255 for index in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def validate_accent_colour(value: str) -> None:
    if not _HEX_COLOUR.match(value or ""):
        raise ValidationError(gettext_lazy("Write the colour as # and six hexadecimal digits, e.g. #0b5394."))
    ratio = contrast_ratio(value, "#ffffff")
    if ratio < MINIMUM_CONTRAST:
        raise ValidationError(
            gettext_lazy(
                "White text on this colour has a contrast of %(ratio)s:1; it needs at least 4.5:1 to be"
                " readable. Choose a darker colour."
            ),
            params={"ratio": f"{ratio:.1f}"},
        )


def check_logo_size(size: int) -> None:
    if size > LOGO_MAX_BYTES:
        raise ValidationError(
            _("The logo is %(size)s KB; at most %(limit)s KB, so that pages stay light on a slow line.")
            % {"size": -(-size // 1024), "limit": LOGO_MAX_BYTES // 1024}
        )


def checked_logo(data: bytes) -> str:
    """The content type of an uploaded logo, or ValidationError saying what is wrong with it."""
    check_logo_size(len(data))
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            image_format, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError(
            _("This file is not an image we can show: upload a PNG, JPEG or WebP file.")
        ) from None
    if image_format not in LOGO_FORMATS:
        raise ValidationError(_("Upload the logo as a PNG, JPEG or WebP file."))
    if max(width, height) > LOGO_MAX_PIXELS:
        raise ValidationError(
            _("The logo is %(width)s × %(height)s pixels; at most %(limit)s pixels on its longer side.")  # noqa: RUF001
            % {"width": width, "height": height, "limit": LOGO_MAX_PIXELS}
        )
    return LOGO_FORMATS[image_format]


def help_line_hours(community) -> str:
    """The days and hours the help line answers, in the active language, or "" when not set."""
    if not (community.help_line_days and community.help_line_opens and community.help_line_closes):
        return ""
    return _("%(days)s, %(opens)s–%(closes)s") % {  # noqa: RUF001
        "days": community.get_help_line_days_display(),
        "opens": time_format(community.help_line_opens, "H:i"),
        "closes": time_format(community.help_line_closes, "H:i"),
    }


def email_signature(community) -> str:
    """The last lines of every e-mail: who sends it and how to reach them by phone."""
    lines = ["-- ", community.service_name or community.name]
    if community.contact_phone:
        hours = help_line_hours(community)
        if hours:
            lines.append(
                _("Help line: %(phone)s (%(hours)s)") % {"phone": community.contact_phone, "hours": hours}
            )
        else:
            lines.append(_("Help line: %(phone)s") % {"phone": community.contact_phone})
    return "\n".join(lines)


def versioned_url(url_name: str, community) -> str:
    """The address of a community's colours or logo, new whenever its identity changes (so it
    can be cached for a year)."""
    return f"{reverse(url_name, args=[community.slug])}?v={int(community.identity_changed_at.timestamp())}"
