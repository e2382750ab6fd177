"""Addresses to points: the offline gazetteer, the online provider's failures, coarse points."""

from __future__ import annotations

import json
import time

import pytest
from geopy.distance import great_circle
from geopy.exc import GeocoderUnavailable
from geopy.location import Location as GeopyLocation

from mutualaid.aid.geocoding import (
    ChainGeocoder,
    GeocodingError,
    NominatimGeocoder,
    OfflineGazetteer,
    default_geocoder,
    locate,
    neighbourhood_near,
)
from mutualaid.aid.places import Location, coarse_point
from tests.conftest import KESSEL_LO, LADEUZEPLEIN, NAAMSESTRAAT

NAAMSESTRAAT_POINT = (50.8735, 4.7003)
BLIJDE_INKOMSTSTRAAT_POINT = (50.8772, 4.7095)
BRUSSELS = (50.8467, 4.3525)


@pytest.fixture(scope="module")
def gazetteer() -> OfflineGazetteer:
    return OfflineGazetteer()


def write_gazetteer(path, streets, districts=None):
    districts = districts or {
        "3000": {"name": "Leuven centrum", "lat": 50.8798, "lon": 4.7005},
        "3001": {"name": "Heverlee", "lat": 50.863, "lon": 4.697},
    }
    path.write_text(
        json.dumps({"about": "test", "districts": districts, "streets": streets}), encoding="utf-8"
    )
    return OfflineGazetteer(path)


class FailingNominatim:
    """Stands in for the online service only: it cannot be reached."""

    def __init__(self):
        self.asked = []

    def geocode(self, address, **options):
        self.asked.append(address)
        raise GeocoderUnavailable("Service not available")


class AnsweringNominatim:
    """Stands in for the online service only: it answers with a fixed place."""

    def __init__(self, location):
        self.location = location

    def geocode(self, address, **options):
        return self.location


def nominatim_with(client, gazetteer) -> NominatimGeocoder:
    return NominatimGeocoder(
        "nominatim.example.org", "mutualaid-tests", 1, gazetteer, min_delay_seconds=0, client=client
    )


# The offline gazetteer


@pytest.mark.parametrize(
    "address",
    [
        "Naamsestraat 12, 3000 Leuven",
        "naamsestraat 12 3000 leuven",
        "NAAMSESTRAAT 12",
        "Naämsestraat 12, 3000 Leuven",
        "  Naamsestraat 12   ",
    ],
)
def test_gazetteer_finds_a_known_street_whatever_the_case_and_accents(gazetteer, address):
    location = gazetteer.locate(address)

    assert (location.latitude, location.longitude) == NAAMSESTRAAT_POINT
    assert location.neighbourhood == "Leuven centrum"
    assert location.address == address.strip()


@pytest.mark.parametrize(
    "address",
    [
        "Blijde Inkomststraat 5",
        "Blijde-Inkomststraat 5, 3000 Leuven",
        "blijde inkomststraat 5",
        "Blijde-inkomststraat 5",
    ],
)
def test_gazetteer_ignores_hyphens_in_street_names(gazetteer, address):
    location = gazetteer.locate(address)

    assert (location.latitude, location.longitude) == BLIJDE_INKOMSTSTRAAT_POINT


def test_gazetteer_prefers_the_longer_street_name(gazetteer):
    # 'Naamsesteenweg' (Heverlee) must not be taken for 'Naamsestraat' or the reverse.
    assert gazetteer.locate("Naamsesteenweg 40, 3001 Heverlee").neighbourhood == "Heverlee"
    assert gazetteer.locate("Naamsestraat 40").neighbourhood == "Leuven centrum"


def test_gazetteer_does_not_find_a_street_inside_another_word(gazetteer):
    assert gazetteer.locate("Grotemarktstraat 1, 3000 Leuven") is None


def test_gazetteer_uses_the_postcode_to_choose_between_streets_of_the_same_name(tmp_path):
    local = write_gazetteer(
        tmp_path / "streets.json",
        [
            {"name": "Kerkstraat", "postcode": "3000", "lat": 50.88, "lon": 4.70},
            {"name": "Kerkstraat", "postcode": "3001", "lat": 50.86, "lon": 4.69},
        ],
    )

    assert local.locate("Kerkstraat 3, 3001 Heverlee").neighbourhood == "Heverlee"
    assert local.locate("Kerkstraat 3, 3001 Heverlee").latitude == 50.86
    assert local.locate("Kerkstraat 3, 3000 Leuven").latitude == 50.88
    # An unknown postcode does not hide the street: the first one is taken.
    assert local.locate("Kerkstraat 3, 3999 Elders").latitude == 50.88


def test_gazetteer_postcode_chooses_between_two_streets_named_in_one_address(gazetteer):
    corner = "Diestsestraat hoek Diestsesteenweg"

    assert gazetteer.locate(f"{corner}, 3000 Leuven").neighbourhood == "Leuven centrum"
    assert gazetteer.locate(f"{corner}, 3010 Kessel-Lo").neighbourhood == "Kessel-Lo"


@pytest.mark.parametrize(
    ("address", "neighbourhood"),
    [
        ("Naamsestraat 12, 3000 Leuven", "Leuven centrum"),
        ("Celestijnenlaan 200, 3001 Heverlee", "Heverlee"),
        ("Gemeentestraat 3, 3010 Leuven", "Kessel-Lo"),
        ("Aarschotsesteenweg 100", "Wilsele"),
        ("Wakkerzeelsebaan 2, 3018 Wijgmaal", "Wijgmaal"),
    ],
)
def test_gazetteer_names_the_neighbourhood_of_the_street(gazetteer, address, neighbourhood):
    assert gazetteer.locate(address).neighbourhood == neighbourhood


def test_gazetteer_names_the_neighbourhood_of_a_postcode(gazetteer):
    assert gazetteer.neighbourhood_of_postcode("3001") == "Heverlee"
    assert gazetteer.neighbourhood_of_postcode("9000") == ""


def test_gazetteer_does_not_know_an_unknown_street(gazetteer):
    assert gazetteer.locate("Onbekendestraat 1, 3000 Leuven") is None


# locate(): what the form shows


def test_an_unknown_address_raises_an_error_that_says_what_to_do():
    with pytest.raises(GeocodingError) as raised:
        locate("Onbekendestraat 1, 3000 Leuven")

    message = str(raised.value)
    assert "Onbekendestraat 1, 3000 Leuven" in message
    assert "pick the place on the map" in message


@pytest.mark.parametrize("address", ["", "   ", "12", "ab "])
def test_a_too_short_address_raises_an_error_asking_for_street_and_number(address):
    with pytest.raises(GeocodingError, match="street and house number"):
        locate(address)


def test_locate_uses_the_offline_gazetteer_in_the_tests():
    assert isinstance(default_geocoder(), OfflineGazetteer)
    assert locate(" Ladeuzeplein 5, 3000 Leuven ") == LADEUZEPLEIN


def test_locate_uses_the_geocoder_it_is_given(tmp_path, gazetteer):
    local = write_gazetteer(
        tmp_path / "streets.json", [{"name": "Kerkstraat", "postcode": "3000", "lat": 1, "lon": 2}]
    )

    assert locate("Kerkstraat 1", geocoder=local).latitude == 1
    with pytest.raises(GeocodingError):
        locate("Naamsestraat 12", geocoder=local)


# The online provider


def test_an_unreachable_online_service_becomes_a_geocoding_error(gazetteer):
    client = FailingNominatim()
    online = nominatim_with(client, gazetteer)

    with pytest.raises(GeocodingError, match="cannot be reached") as raised:
        online.locate("Rue de la Loi 16, Bruxelles")

    assert isinstance(raised.value.__cause__, GeocoderUnavailable)
    assert client.asked == ["Rue de la Loi 16, Bruxelles"]


def test_an_unreachable_online_service_reaches_the_person_as_a_form_message(gazetteer):
    with pytest.raises(GeocodingError) as raised:
        locate("Rue de la Loi 16, Bruxelles", geocoder=nominatim_with(FailingNominatim(), gazetteer))

    message = str(raised.value)
    assert "'Rue de la Loi 16, Bruxelles' is not among the streets we know here" in message
    assert "cannot be reached right now" in message
    assert "pick the place on the map" in message


def test_a_misspelled_street_gets_the_known_streets_it_resembles_whether_or_not_the_service_answers(
    gazetteer,
):
    for online in (FailingNominatim(), AnsweringNominatim(None)):
        chain = ChainGeocoder([gazetteer, nominatim_with(online, gazetteer)])
        with pytest.raises(GeocodingError, match="Did you mean Naamsestraat\\?"):
            locate("Naamsesstraat 12, 3000 Leuven", geocoder=chain)


def test_a_wrong_address_is_not_blamed_on_the_service_when_the_service_answered(gazetteer):
    chain = ChainGeocoder([gazetteer, nominatim_with(AnsweringNominatim(None), gazetteer)])

    with pytest.raises(GeocodingError) as raised:
        locate("Naamsesstraat 12, 3000 Leuven", geocoder=chain)

    assert "cannot be reached" not in str(raised.value)
    assert "We could not find 'Naamsesstraat 12, 3000 Leuven'." in str(raised.value)


def test_an_address_like_no_known_street_gets_no_suggestion(gazetteer):
    assert gazetteer.similar_streets("Rue de la Loi 16, Bruxelles") == []


def test_several_similar_streets_are_offered_as_a_list(gazetteer):
    with pytest.raises(GeocodingError, match="Did you mean Tiensestraat or Diestsestraat\\?"):
        locate("tiense straat 4")


@pytest.mark.parametrize(
    ("point", "words"),
    [
        (NAAMSESTRAAT_POINT, "near Naamsestraat, Leuven centrum"),
        ((50.863, 4.69), "in Heverlee"),
        (BRUSSELS, ""),
    ],
)
def test_a_point_on_the_map_is_described_from_the_same_table(gazetteer, point, words):
    assert gazetteer.describe_point(*point) == words


def test_the_online_service_finding_nothing_is_not_an_error(gazetteer):
    assert nominatim_with(AnsweringNominatim(None), gazetteer).locate("Nowhere 1") is None


def test_the_online_answer_takes_the_neighbourhood_from_the_postcode(gazetteer):
    found = GeopyLocation(
        "Celestijnenlaan 200, Heverlee",
        (50.8645, 4.68),
        {"address": {"postcode": "3001", "suburb": "Arenberg", "city": "Leuven"}},
    )

    location = nominatim_with(AnsweringNominatim(found), gazetteer).locate(" Celestijnenlaan 200 ")

    assert location == Location(50.8645, 4.68, "Celestijnenlaan 200", "Heverlee")


def test_the_online_answer_outside_known_postcodes_uses_the_suburb(gazetteer):
    found = GeopyLocation(
        "Wetstraat 16", (50.8466, 4.3677), {"address": {"postcode": "1000", "suburb": "Europa"}}
    )

    assert (
        nominatim_with(AnsweringNominatim(found), gazetteer).locate("Wetstraat 16").neighbourhood == "Europa"
    )


# The chain


def test_the_chain_asks_the_offline_gazetteer_first_and_stops_there(gazetteer):
    client = FailingNominatim()
    chain = ChainGeocoder([gazetteer, nominatim_with(client, gazetteer)])

    assert chain.locate("Naamsestraat 12, 3000 Leuven") == gazetteer.locate("Naamsestraat 12, 3000 Leuven")
    assert client.asked == []


def test_the_chain_asks_the_next_geocoder_when_the_first_does_not_know(gazetteer):
    client = FailingNominatim()
    chain = ChainGeocoder([gazetteer, nominatim_with(client, gazetteer)])

    with pytest.raises(GeocodingError, match="cannot be reached"):
        chain.locate("Rue de la Loi 16, Bruxelles")
    assert client.asked == ["Rue de la Loi 16, Bruxelles"]


def test_the_first_geocoder_of_the_chain_that_knows_wins(tmp_path, gazetteer):
    first = write_gazetteer(
        tmp_path / "first.json", [{"name": "Kerkstraat", "postcode": "3000", "lat": 1, "lon": 1}]
    )
    second = write_gazetteer(
        tmp_path / "second.json", [{"name": "Kerkstraat", "postcode": "3000", "lat": 2, "lon": 2}]
    )

    assert ChainGeocoder([first, second]).locate("Kerkstraat 1").latitude == 1
    assert ChainGeocoder([second, first]).locate("Kerkstraat 1").latitude == 2
    assert ChainGeocoder([first, gazetteer]).locate("Naamsestraat 12").latitude == NAAMSESTRAAT_POINT[0]
    assert ChainGeocoder([first, second]).locate("Naamsestraat 12") is None


def test_the_online_setting_chains_the_gazetteer_before_nominatim(settings):
    settings.GEOCODER = "nominatim"
    settings.NOMINATIM_DOMAIN = "nominatim.leuven.example"
    default_geocoder.cache_clear()

    geocoder = default_geocoder()

    assert isinstance(geocoder, ChainGeocoder)
    assert [type(each) for each in geocoder.geocoders] == [OfflineGazetteer, NominatimGeocoder]
    assert geocoder.geocoders[1].client.domain == "nominatim.leuven.example"


# Points picked on the map


@pytest.mark.parametrize(
    ("point", "neighbourhood"),
    [
        (NAAMSESTRAAT_POINT, "Leuven centrum"),
        ((50.8625, 4.712), "Heverlee"),
        ((50.8895, 4.7270), "Kessel-Lo"),
        ((50.9250, 4.6830), "Wijgmaal"),
    ],
)
def test_a_point_near_leuven_gets_the_nearest_neighbourhood(point, neighbourhood):
    assert neighbourhood_near(*point) == neighbourhood


@pytest.mark.parametrize("point", [BRUSSELS, (51.2194, 4.4025), (0.0, 0.0)])
def test_a_point_far_from_leuven_gets_no_neighbourhood(point):
    assert neighbourhood_near(*point) == ""


# Coarse points: what a volunteer sees before accepting

TEST_POINTS = [(place.latitude, place.longitude) for place in (NAAMSESTRAAT, LADEUZEPLEIN, KESSEL_LO)] + [
    (street["lat"], street["lon"]) for street in OfflineGazetteer().streets
]


@pytest.mark.parametrize("point", TEST_POINTS)
def test_the_coarse_point_is_near_but_never_the_exact_point(point):
    coarse = coarse_point(*point)

    assert great_circle(point, coarse).meters < 450
    assert coarse != point
    assert coarse_point(*coarse) == coarse  # the centre of a cell lies in that cell


def test_two_nearby_houses_in_one_cell_share_their_coarse_point():
    first_house, second_house = (50.8736, 4.7001), (50.8739, 4.6990)

    assert coarse_point(*first_house) == coarse_point(*second_house)
    across_town = (LADEUZEPLEIN.latitude, LADEUZEPLEIN.longitude)
    assert coarse_point(*first_house) != coarse_point(*across_town)


def test_the_coarse_point_does_not_depend_on_the_exact_house_number_position():
    # Two houses 40 m apart in one street give a volunteer no way to tell them apart.
    assert coarse_point(50.87350, 4.70030) == coarse_point(50.87385, 4.70030)


def test_the_online_lookup_is_limited_to_the_configured_countries(gazetteer, settings):
    settings.GEOCODER_COUNTRY_CODES = ["nl", "be"]
    asked = []

    class RecordingNominatim:
        def geocode(self, address, **options):
            asked.append(options["country_codes"])

    NominatimGeocoder(
        "n.example.org", "tests", 1, gazetteer, min_delay_seconds=0, client=RecordingNominatim()
    ).locate("Dorpsstraat 1")

    assert asked == [["nl", "be"]]


def test_online_lookups_are_spaced_by_the_rate_limiter(gazetteer):
    moments = []

    class TimedNominatim:
        def geocode(self, address, **options):
            moments.append(time.monotonic())

    online = NominatimGeocoder(
        "n.example.org", "tests", 1, gazetteer, min_delay_seconds=0.2, client=TimedNominatim()
    )
    online.locate("Dorpsstraat 1")
    online.locate("Dorpsstraat 2")

    assert moments[1] - moments[0] >= 0.19


def test_the_postcode_pattern_is_a_setting(tmp_path, settings):
    streets = [
        {"name": "Kerkstraat", "postcode": "1012", "lat": 52.37, "lon": 4.89},
        {"name": "Kerkstraat", "postcode": "2011", "lat": 52.38, "lon": 4.63},
    ]
    address = "Kerkstraat 1012, 2011 AB Haarlem"  # a house number of four digits
    belgian = write_gazetteer(tmp_path / "streets.json", streets)
    settings.GEOCODER_POSTCODE_PATTERN = r"\b\d{4}(?= ?[a-z]{2}\b)"  # Dutch: 2011 AB
    dutch = write_gazetteer(tmp_path / "streets.json", streets)

    assert belgian.locate(address).latitude == 52.37  # took the house number for a postcode
    assert dutch.locate(address).latitude == 52.38
