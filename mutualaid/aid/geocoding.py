"""Turning an address into a point, behind one small interface.

`locate(address)` first asks the offline gazetteer (the Leuven demo's streets, shipped
with the code, so the embedded default works without internet), then geopy's provider:
Nominatim by default, or a city's own Nominatim via NOMINATIM_DOMAIN, limited to
GEOCODER_COUNTRY_CODES and to one request a second per process (Nominatim's usage policy).
A failed lookup is a `GeocodingError` with a message for the form, never an exception that
reaches the user.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import re
import unicodedata
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from geopy.distance import great_circle
from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim

from mutualaid.aid.places import Location

logger = logging.getLogger(__name__)

GAZETTEER_PATH = Path(__file__).parent / "data" / "leuven_gazetteer.json"
# A map click this close to a known street's point is described as "near" it (a street's
# point is one spot along it, so a few hundred metres still means that street).
STREET_NEAR_KM = 0.35


class GeocodingError(Exception):
    """The address could not be turned into a point; the message is for the person."""


class AddressServiceUnreachable(GeocodingError):
    """The online provider did not answer: the address may well be right."""


class Geocoder(Protocol):
    def locate(self, address: str) -> Location | None: ...


def _fold(text: str) -> str:
    """Lower case, no accents, single spaces: 'Blijde-Inkomststraat' ~ 'blijde inkomststraat'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


class OfflineGazetteer:
    """Known streets and postcodes from a JSON table: the demo's offline geocoder."""

    def __init__(self, path: Path = GAZETTEER_PATH, postcode_pattern: str | None = None) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self.postcode = re.compile(postcode_pattern or settings.GEOCODER_POSTCODE_PATTERN)
        self.districts: dict[str, dict] = data["districts"]
        # Longest names first so 'Naamsesteenweg' is not taken for a shorter street.
        self.streets = sorted(data["streets"], key=lambda street: -len(street["name"]))

    def locate(self, address: str) -> Location | None:
        folded = f" {_fold(address)} "
        postcode_match = self.postcode.search(folded)
        postcode = postcode_match.group(0) if postcode_match else None
        candidates = [street for street in self.streets if f" {_fold(street['name'])} " in folded]
        if postcode:
            candidates = [street for street in candidates if street["postcode"] == postcode] or candidates
        if not candidates:
            return None
        street = candidates[0]
        district = self.districts.get(street["postcode"], {})
        return Location(
            latitude=street["lat"],
            longitude=street["lon"],
            address=address.strip(),
            neighbourhood=district.get("name", ""),
        )

    def neighbourhood_of_postcode(self, postcode: str) -> str:
        return self.districts.get(postcode, {}).get("name", "")

    def similar_streets(self, address: str, limit: int = 3) -> list[str]:
        """Known street names spelled like the one given: 'Naamsesstraat 12' -> Naamsestraat."""
        street_part = re.sub(r"[0-9]+\S*", " ", address.split(",")[0])
        folded = _fold(street_part)
        if not folded:
            return []
        by_folded = {_fold(street["name"]): street["name"] for street in self.streets}
        close = difflib.get_close_matches(folded, by_folded, n=limit, cutoff=0.75)
        return [by_folded[name] for name in close]

    def describe_point(self, latitude: float, longitude: float) -> str:
        """A point in words from the same table: 'near Naamsestraat, Leuven centrum'."""
        street = min(
            self.streets,
            key=lambda street: great_circle((latitude, longitude), (street["lat"], street["lon"])).km,
        )
        neighbourhood = self.neighbourhood_of_postcode(street["postcode"])
        if great_circle((latitude, longitude), (street["lat"], street["lon"])).km <= STREET_NEAR_KM:
            if neighbourhood:
                return _("near %(street)s, %(neighbourhood)s") % {
                    "street": street["name"],
                    "neighbourhood": neighbourhood,
                }
            return _("near %(street)s") % {"street": street["name"]}
        district = neighbourhood_near(latitude, longitude)
        return _("in %(neighbourhood)s") % {"neighbourhood": district} if district else ""


class NominatimGeocoder:
    """geopy's Nominatim client; a city can point NOMINATIM_DOMAIN at its own server.

    `client` is anything with geopy's `geocode` (tests pass a stand-in). Lookups go through
    geopy's RateLimiter, which spaces them `min_delay_seconds` apart in this process and
    lets errors through (a swallowed error would read as "address not found").
    """

    def __init__(
        self,
        domain: str,
        user_agent: str,
        timeout: float,
        gazetteer: OfflineGazetteer,
        *,
        country_codes: list[str] | None = None,
        min_delay_seconds: float = 1.0,
        client=None,
    ) -> None:
        self.client = client or Nominatim(domain=domain, user_agent=user_agent, timeout=timeout)
        self.geocode = RateLimiter(
            self.client.geocode, min_delay_seconds=min_delay_seconds, max_retries=0, swallow_exceptions=False
        )
        self.gazetteer = gazetteer
        self.country_codes = settings.GEOCODER_COUNTRY_CODES if country_codes is None else country_codes

    def locate(self, address: str) -> Location | None:
        try:
            found = self.geocode(address, addressdetails=True, country_codes=self.country_codes or None)
        except (GeopyError, OSError, ValueError) as error:
            logger.warning("Geocoding %r failed: %s", address, error)
            raise AddressServiceUnreachable(
                _("The address service cannot be reached right now. Pick the place on the map instead.")
            ) from error
        if found is None:
            return None
        details = found.raw.get("address", {})
        neighbourhood = (
            self.gazetteer.neighbourhood_of_postcode(details.get("postcode", ""))
            or details.get("suburb")
            or details.get("city_district")
            or details.get("town")
            or details.get("city", "")
        )
        return Location(found.latitude, found.longitude, address.strip(), neighbourhood)


class ChainGeocoder:
    """Ask each geocoder in turn; the first that knows the address wins."""

    def __init__(self, geocoders: list[Geocoder]) -> None:
        self.geocoders = geocoders

    def locate(self, address: str) -> Location | None:
        for geocoder in self.geocoders:
            location = geocoder.locate(address)
            if location is not None:
                return location
        return None


@functools.cache
def offline_gazetteer() -> OfflineGazetteer:
    """The bundled street table, read once per process."""
    return OfflineGazetteer()


@functools.cache
def default_geocoder() -> Geocoder:
    gazetteer = offline_gazetteer()
    if settings.GEOCODER == "offline":
        return gazetteer
    online = NominatimGeocoder(
        settings.NOMINATIM_DOMAIN, settings.GEOCODER_USER_AGENT, settings.GEOCODER_TIMEOUT_SECONDS, gazetteer
    )
    return ChainGeocoder([gazetteer, online])


def locate(address: str, geocoder: Geocoder | None = None) -> Location:
    """The point for an address, or a GeocodingError that says what to do instead."""
    address = address.strip()
    if len(address) < 4:
        raise GeocodingError(_("Please give a street and house number, or pick the place on the map."))
    try:
        location = (geocoder or default_geocoder()).locate(address)
    except AddressServiceUnreachable as error:
        # Only the bundled streets were asked: say so, rather than "the service is down" to
        # someone who may just have misspelled their street.
        message = _(
            "'%(address)s' is not among the streets we know here, and the address service that "
            "knows the others cannot be reached right now."
        ) % {"address": address}
        raise GeocodingError(_with_suggestions(message, address)) from error
    if location is None:
        message = _("We could not find '%(address)s'.") % {"address": address}
        raise GeocodingError(_with_suggestions(message, address))
    return location


def _with_suggestions(message: str, address: str) -> str:
    suggestions = offline_gazetteer().similar_streets(address)
    if suggestions:
        message += " " + _("Did you mean %(streets)s?") % {"streets": get_text_list(suggestions, _("or"))}
    return message + " " + _("Check the street name, or pick the place on the map.")


def neighbourhood_near(latitude: float, longitude: float) -> str:
    """The name of the nearest known district, for a point picked on the map."""
    gazetteer = offline_gazetteer()
    best = min(
        gazetteer.districts.values(),
        key=lambda district: great_circle((latitude, longitude), (district["lat"], district["lon"])).km,
    )
    if great_circle((latitude, longitude), (best["lat"], best["lon"])).km > 5:
        return ""
    return best["name"]


def describe_point(latitude: float, longitude: float) -> str:
    """Where a point picked on the map lies, in words ('' when far from every known place)."""
    return offline_gazetteer().describe_point(latitude, longitude)
