"""A community's listing for services directories, in Open Referral's Human Services Data
Specification (HSDS) 3.0.

The document has the shape of HSDS 3.0's API answer to `GET /organizations/{id}` with its
services nested (the specification's `compiled/organization.json`): one organization (the
community's service), one service per offered category, each with its service area (the
community's area: its name and a GeoJSON polygon) and, when the community records its help
line's hours, a weekly schedule. Nothing about a person or a request is in it.

Identifiers are UUIDs, as HSDS asks: version 5 (name-based) ones made from the site's
address, the community's slug and the category's code, so a directory importing the file
again finds the same records.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from geopy.distance import great_circle

from mutualaid.aid.identity import help_line_hours
from mutualaid.aid.models import Category, Community, HelpLineDays
from mutualaid.partners.intake import MAX_KM_FROM_CENTRE
from mutualaid.reports.statistics import community_time_zone

# iCalendar's BYDAY for the help line's days (RFC 5545), as HSDS's schedule takes them.
HELP_LINE_BYDAY = {
    HelpLineDays.WEEKDAYS: "MO,TU,WE,TH,FR",
    HelpLineDays.WEEKDAYS_AND_SATURDAY: "MO,TU,WE,TH,FR,SA",
    HelpLineDays.EVERY_DAY: "MO,TU,WE,TH,FR,SA,SU",
}
# The circle of the service area drawn as a polygon of this many corners: within 0.4 % of
# the radius, plenty for a directory's "who serves my address".
AREA_CORNERS = 36


def record_id(community: Community, *parts: str) -> str:
    """A stable UUID for one record of this community's listing."""
    name = "/".join([settings.SITE_URL.rstrip("/"), "communities", community.slug, "hsds", *parts])
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def area_polygon(community: Community, radius_km: float = MAX_KM_FROM_CENTRE) -> dict:
    """The circle around the community's centre as a GeoJSON Polygon (RFC 7946: longitude
    first, the ring closed and counter-clockwise)."""
    centre = (community.latitude, community.longitude)
    ring = []
    for corner in range(AREA_CORNERS):
        bearing = -360 * corner / AREA_CORNERS  # decreasing: counter-clockwise on the map
        point = great_circle(kilometers=radius_km).destination(centre, bearing % 360)
        ring.append([round(point.longitude, 5), round(point.latitude, 5)])
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def _time_with_offset(community: Community, moment: dt.time, today: dt.date) -> str:
    """HH:MM with the community's UTC offset of today (HSDS asks for the offset; it changes
    with summer time, and the document is made anew for each download)."""
    local = dt.datetime.combine(today, moment, tzinfo=community_time_zone(community))
    return local.strftime("%H:%M") + local.isoformat()[-6:]


def help_line_schedule(community: Community, service_id: str, today: dt.date | None = None) -> list[dict]:
    """The help line's weekly hours as an HSDS schedule, or none when they are not recorded."""
    hours = help_line_hours(community)
    if not hours:
        return []
    today = today or timezone.localdate(timezone=community_time_zone(community))
    return [
        {
            "id": record_id(community, "schedule", service_id),
            "service_id": service_id,
            "freq": "WEEKLY",
            "byday": HELP_LINE_BYDAY[community.help_line_days],
            "wkst": "MO",
            "opens_at": _time_with_offset(community, community.help_line_opens, today),
            "closes_at": _time_with_offset(community, community.help_line_closes, today),
            "description": _("The help line answers %(hours)s. Online, you can ask at any time.")
            % {"hours": hours},
            "attending_type": _("By phone on the help line, or online."),
        }
    ]


def service_record(community: Community, category: Category, organization_id: str, area: str) -> dict:
    service_id = record_id(community, "service", category.slug)
    name = community.service_name or community.name
    record = {
        "id": service_id,
        "organization_id": organization_id,
        "name": category.label,
        "description": _(
            "%(kind)s: volunteers who live nearby help people in %(community)s. Ask for it"
            " online; %(service)s finds a volunteer."
        )
        % {"kind": category.label, "community": community.name, "service": name},
        "url": settings.SITE_URL.rstrip("/") + reverse("request-create"),
        "status": "active",
        "service_areas": [
            {
                "id": record_id(community, "service_area", category.slug),
                "service_id": service_id,
                "name": community.name,
                "description": _("Within %(km)s km of the centre of %(community)s.")
                % {"km": MAX_KM_FROM_CENTRE, "community": community.name},
                "extent": area,
                "extent_type": "geojson",
            }
        ],
        "schedules": help_line_schedule(community, service_id),
    }
    return record


def directory_document(community: Community) -> dict:
    """The community's HSDS 3.0 organization with its services (texts in the active language)."""
    organization_id = record_id(community, "organization")
    name = community.service_name or community.name
    organization = {
        "id": organization_id,
        "name": name,
        "description": _(
            "%(service)s: neighbours helping neighbours in %(community)s. People ask for help"
            " (shopping, the pharmacy, a lift...), volunteers nearby offer theirs."
        )
        % {"service": name, "community": community.name},
        "website": settings.SITE_URL,
    }
    if community.service_name and community.service_name != community.name:
        organization["alternate_name"] = community.name
    if community.contact_phone:
        organization["phones"] = [
            {
                "id": record_id(community, "phone", "help-line"),
                "organization_id": organization_id,
                "number": community.contact_phone,
                "type": "voice",
                "description": _("Help line"),
            }
        ]
    area = json.dumps(area_polygon(community), separators=(",", ":"))
    categories = sorted(community.categories.filter(is_active=True), key=lambda category: category.slug)
    organization["services"] = [
        service_record(community, category, organization_id, area) for category in categories
    ]
    return organization
