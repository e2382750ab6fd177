"""Bad input gets a clear message next to its field, a 200 and nothing saved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from mutualaid.accounts.models import User
from mutualaid.aid.models import Category, HelpRequest, VolunteerOffer
from tests.conftest import PASSWORD, sign_in

TODAY = timezone.localdate()
TOMORROW = TODAY + dt.timedelta(days=1)


@pytest.fixture
def gardening(other_community) -> Category:
    return Category.objects.create(community=other_community, slug="gardening", name="Gardening")


def request_data(chosen_category, **changes) -> dict:
    data = {
        "category": chosen_category.pk,
        "description": "Bread and milk, please.",
        "urgency": "1",
        "address": "Naamsestraat 12, 3000 Leuven",
        "latitude": "",
        "longitude": "",
        "window_1_date": TOMORROW.isoformat(),
        "window_1_part": "0",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def offer_data(*skills, **changes) -> dict:
    data = {
        "skills": [skill.pk for skill in skills],
        "address": "Ladeuzeplein 5, 3000 Leuven",
        "latitude": "",
        "longitude": "",
        "max_km": "3",
        "availability": ["0", "4", "20"],
        "capacity": "2",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def assert_shown_next_to(response, field: str, message: str) -> None:
    """The page is re-shown (not a 500) with the message among the field's own errors."""
    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors.get(field, [])), form.errors.as_data()
    content = response.content.decode()
    assert f'id="id_{field}_error"' in content  # rendered inside the field's group
    assert escape(message) in content


def post_request_form(client, user, data):
    sign_in(client, user)
    return client.post(reverse("request-create"), data)


# The request form


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"address": "Onbekendestraat 1, 3000 Leuven"},
            "address",
            "We could not find 'Onbekendestraat 1, 3000 Leuven'",
            id="unknown-address",
        ),
        pytest.param(
            {"address": "ab"}, "address", "Please give a street and house number", id="too-short-address"
        ),
        pytest.param(
            {"address": ""}, "address", "Give your address or pick the place on the map.", id="no-place"
        ),
        pytest.param(
            {"address": "", "latitude": "50.8736"},
            "latitude",
            "Give both latitude and longitude",
            id="only-latitude",
        ),
        pytest.param(
            {"address": "", "longitude": "4.7004"},
            "latitude",
            "Give both latitude and longitude",
            id="only-longitude",
        ),
        pytest.param(
            {"address": "", "latitude": "123", "longitude": "4.7004"},
            "latitude",
            "less than or equal to 90",
            id="latitude-123",
        ),
        pytest.param(
            {"address": "", "latitude": "50.87", "longitude": "200"},
            "longitude",
            "less than or equal to 180",
            id="longitude-200",
        ),
        pytest.param({"latitude": "north"}, "latitude", "Enter a number.", id="latitude-not-a-number"),
        pytest.param(
            {"window_1_date": (TODAY - dt.timedelta(days=1)).isoformat()},
            "window_1_date",
            "This day has passed.",
            id="past-date",
        ),
        pytest.param(
            {"window_1_date": (TODAY + dt.timedelta(days=61)).isoformat()},
            "window_1_date",
            "Pick a day within 60 days.",
            id="date-too-far",
        ),
        pytest.param(
            {"window_1_part": ""}, "window_1_part", "Pick morning, afternoon or evening.", id="no-part"
        ),
        pytest.param(
            {"window_1_date": ""}, "window_1_date", "Pick the day for this part of the day.", id="no-day"
        ),
        pytest.param(
            {"window_1_date": "next tuesday"}, "window_1_date", "Enter a valid date.", id="bad-date"
        ),
        pytest.param({"window_1_part": "7"}, "window_1_part", "Select a valid choice.", id="bad-part"),
        pytest.param(
            {"window_1_date": "", "window_1_part": ""},
            "any_time",
            "Say when you need help, or tick",
            id="no-time-and-not-any-time",
        ),
        pytest.param(
            {"window_2_date": TOMORROW.isoformat()},
            "window_2_part",
            "Pick morning, afternoon or evening.",
            id="second-row-without-part",
        ),
        pytest.param(
            {"description": "x" * 2001},
            "description",
            "Ensure this value has at most 2000 characters",
            id="description-too-long",
        ),
        pytest.param({"description": ""}, "description", "This field is required.", id="no-description"),
        pytest.param({"urgency": "9"}, "urgency", "Select a valid choice.", id="bad-urgency"),
        pytest.param({"category": ""}, "category", "This field is required.", id="no-category"),
    ],
)
def test_bad_request_input_is_explained_next_to_its_field_and_nothing_is_saved(
    client, citizen, shopping, changes, field, message
):
    response = post_request_form(client, citizen, request_data(shopping, **changes))

    assert_shown_next_to(response, field, message)
    assert not HelpRequest.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"window_1_part": ""}, id="day-without-part"),
        pytest.param({"window_1_part": "7"}, id="day-with-a-bad-part"),
        pytest.param(
            {"window_1_date": "", "window_1_part": "", "window_2_date": TOMORROW.isoformat()},
            id="second-row-without-part",
        ),
    ],
)
def test_a_half_filled_time_window_is_not_also_told_to_say_when(client, citizen, shopping, changes):
    # The person did say when; 'say when or tick any time' next to the box would mislead them.
    response = post_request_form(client, citizen, request_data(shopping, **changes))

    assert response.status_code == 200
    assert "any_time" not in response.context["form"].errors
    assert not HelpRequest.objects.exists()


def test_a_category_of_another_community_cannot_be_posted(client, citizen, shopping, gardening):
    response = post_request_form(client, citizen, request_data(gardening))

    assert_shown_next_to(response, "category", "Select a valid choice.")
    assert not HelpRequest.objects.exists()


def test_an_inactive_category_cannot_be_posted(client, citizen, shopping, pharmacy):
    pharmacy.is_active = False
    pharmacy.save()

    response = post_request_form(client, citizen, request_data(pharmacy))

    assert_shown_next_to(response, "category", "Select a valid choice.")
    assert not HelpRequest.objects.exists()


def test_a_valid_request_is_saved_and_shown(client, citizen, shopping):
    response = post_request_form(
        client,
        citizen,
        request_data(shopping, window_2_date=(TODAY + dt.timedelta(days=60)).isoformat(), window_2_part="2"),
    )

    help_request = HelpRequest.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("request-detail", args=[help_request.pk])
    assert (help_request.address, help_request.neighbourhood) == (
        "Naamsestraat 12, 3000 Leuven",
        "Leuven centrum",
    )
    assert [(w.date, w.part_of_day) for w in help_request.time_windows.all()] == [
        (TOMORROW, 0),
        (TODAY + dt.timedelta(days=60), 2),
    ]


def test_any_time_needs_no_time_window(client, citizen, shopping):
    response = post_request_form(
        client, citizen, request_data(shopping, window_1_date="", window_1_part="", any_time="on")
    )

    assert response.status_code == 302
    assert HelpRequest.objects.get().any_time


def test_today_is_still_a_valid_day(client, citizen, shopping, local_time):
    local_time(9, 30)
    response = post_request_form(client, citizen, request_data(shopping, window_1_date=TODAY.isoformat()))

    assert response.status_code == 302


def test_a_part_of_today_that_has_passed_is_refused_at_the_field(client, citizen, shopping, local_time):
    local_time(20, 39)  # "today, morning" posted in the evening
    response = post_request_form(
        client,
        citizen,
        request_data(shopping, window_1_date=TODAY.isoformat(), window_1_part="0"),
    )

    assert response.status_code == 200
    assert "This part of today has passed" in response.context["form"].errors["window_1_part"][0]
    assert not HelpRequest.objects.exists()
    evening = request_data(shopping, window_1_date=TODAY.isoformat(), window_1_part="2")
    assert post_request_form(client, citizen, evening).status_code == 302


def test_a_map_pin_alone_is_accepted(client, citizen, shopping):
    response = post_request_form(
        client, citizen, request_data(shopping, address="", latitude="50.8736", longitude="4.7004")
    )

    assert response.status_code == 302
    help_request = HelpRequest.objects.get()
    assert (help_request.latitude, help_request.longitude) == (50.8736, 4.7004)
    assert help_request.address == ""
    assert help_request.neighbourhood == "Leuven centrum"


def test_a_map_pin_wins_over_an_unknown_address(client, citizen, shopping):
    response = post_request_form(
        client,
        citizen,
        request_data(shopping, address="Bij de bakker om de hoek", latitude="50.8736", longitude="4.7004"),
    )

    assert response.status_code == 302
    assert HelpRequest.objects.get().address == "Bij de bakker om de hoek"


def test_the_request_form_offers_only_the_categories_of_the_users_community(
    client, citizen, shopping, pharmacy, gardening
):
    retired = Category.objects.create(community=citizen.community, slug="retired", name="Retired service")
    retired.is_active = False
    retired.save()
    sign_in(client, citizen)

    response = client.get(reverse("request-create"))

    assert response.status_code == 200
    assert set(response.context["form"].fields["category"].queryset) == {shopping, pharmacy}
    content = response.content.decode()
    assert "Shopping" in content and "Pharmacy" in content
    assert "Gardening" not in content
    assert "Retired service" not in content


def test_someone_without_a_community_cannot_open_the_request_form(client, db):
    sign_in(client, User.objects.create_user("drifter", password=PASSWORD))

    assert client.get(reverse("request-create")).status_code == 404


# The volunteer offer form


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param(
            {"availability": []}, "availability", "Tick at least one part of the week", id="no-availability"
        ),
        pytest.param(
            {"availability": ["21"]}, "availability", "Select a valid choice.", id="slot-outside-grid"
        ),
        pytest.param({"max_km": "0"}, "max_km", "greater than or equal to 0.5", id="max-km-0"),
        pytest.param({"max_km": "100"}, "max_km", "less than or equal to 50", id="max-km-100"),
        pytest.param({"max_km": "far"}, "max_km", "Enter a number.", id="max-km-not-a-number"),
        pytest.param({"capacity": "0"}, "capacity", "greater than or equal to 1", id="capacity-0"),
        pytest.param({"capacity": "11"}, "capacity", "less than or equal to 10", id="capacity-11"),
        pytest.param({"skills": []}, "skills", "This field is required.", id="no-skills"),
        pytest.param(
            {"address": "Onbekendestraat 1, 3000 Leuven"},
            "address",
            "We could not find",
            id="unknown-address",
        ),
        pytest.param(
            {"address": "", "latitude": "50.87"}, "latitude", "Give both latitude", id="only-latitude"
        ),
    ],
)
def test_bad_offer_input_is_explained_next_to_its_field_and_nothing_is_saved(
    client, citizen, shopping, changes, field, message
):
    sign_in(client, citizen)

    response = client.post(reverse("offer-edit"), offer_data(shopping, **changes))

    assert response.status_code == 200
    form = response.context["form"]
    assert any(message in error for error in form.errors.get(field, [])), form.errors.as_data()
    assert escape(form.errors[field][0]) in response.content.decode()
    assert not VolunteerOffer.objects.exists()


def test_an_offer_cannot_name_skills_of_another_community(client, citizen, shopping, gardening):
    sign_in(client, citizen)

    response = client.post(reverse("offer-edit"), offer_data(shopping, gardening))

    assert_shown_next_to(response, "skills", "Select a valid choice.")
    assert not VolunteerOffer.objects.exists()


def test_a_valid_offer_is_saved_and_leads_to_the_inbox(client, citizen, shopping, pharmacy):
    sign_in(client, citizen)

    response = client.post(reverse("offer-edit"), offer_data(shopping, pharmacy))

    assert response.status_code == 302
    assert response.url == reverse("inbox")
    offer = VolunteerOffer.objects.get(volunteer=citizen)
    assert set(offer.skills.all()) == {shopping, pharmacy}
    assert (offer.availability, offer.capacity, offer.max_km) == ([0, 4, 20], 2, 3.0)


def test_a_bad_change_to_an_existing_offer_keeps_the_old_offer(client, volunteer, shopping):
    sign_in(client, volunteer)
    before = VolunteerOffer.objects.get(volunteer=volunteer)

    response = client.post(reverse("offer-edit"), offer_data(shopping, max_km="100", capacity="3"))

    assert response.status_code == 200
    after = VolunteerOffer.objects.get(volunteer=volunteer)
    assert (after.max_km, after.capacity, after.updated_at) == (
        before.max_km,
        before.capacity,
        before.updated_at,
    )


def test_the_offer_form_shows_the_saved_offer(client, volunteer):
    sign_in(client, volunteer)

    response = client.get(reverse("offer-edit"))

    assert response.status_code == 200
    assert response.context["form"].initial["address"] == "Ladeuzeplein 5, 3000 Leuven"


# Signing up


def signup_data(community, **changes) -> dict:
    data = {
        "username": "newcomer",
        "first_name": "Nina",
        "last_name": "Claes",
        "email": "nina@example.org",
        "phone": "",
        "community": community.pk,
        "preferred_language": "nl",
        "password1": "a-long-new-password-1",
        "password2": "a-long-new-password-1",
    }
    data.update(changes)
    return data


def test_signup_with_mismatched_passwords_is_explained_and_creates_nobody(client, community):
    response = client.post(reverse("signup"), signup_data(community, password2="a-different-password-2"))

    assert response.status_code == 200
    errors = response.context["form"].errors["password2"]
    assert any("two password fields" in error for error in errors)
    assert escape(errors[0]) in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()


def test_signup_creates_a_member_of_the_chosen_community_and_logs_them_in(client, community):
    response = client.post(reverse("signup"), signup_data(community))

    assert response.status_code == 302
    user = User.objects.get(username="newcomer")
    assert user.community == community
    assert not user.is_coordinator and not user.is_staff
    assert client.get(reverse("my-requests")).status_code == 200


@pytest.mark.parametrize("huge", ["99999999999999999999", "-1", "1e5", "9223372036854775808"])
def test_ids_no_row_could_have_are_a_clear_error_not_a_crash(client, volunteer, citizen, community, huge):
    sign_in(client, volunteer)
    response = client.post(
        reverse("offer-edit"), {"skills": huge, "max_km": "4", "address": "Naamsestraat 1"}
    )
    assert response.status_code == 200 and "is not a valid value" in response.text
    sign_in(client, citizen)
    response = client.post(reverse("request-create"), {"category": huge, "description": "x", "urgency": 1})
    assert response.status_code == 200 and "not one of the available choices" in response.text
    client.logout()
    response = client.post(reverse("signup"), {"username": "newcomer", "community": huge})
    assert response.status_code == 200 and "not one of the available choices" in response.text


# Reasons longer than the field allows (browsers stop them; other clients get told)


def test_a_too_long_cancel_reason_is_refused_with_a_message_and_nothing_changes(
    client, citizen, help_request
):
    sign_in(client, citizen)

    response = client.post(
        reverse("request-cancel", args=[help_request.pk]), {"reason": "x" * 300}, follow=True
    )

    assert response.status_code == 200
    assert "at most 255 characters" in response.content.decode()
    assert HelpRequest.objects.get(pk=help_request.pk).status == "open"


def test_a_too_long_decline_reason_is_refused_with_a_message_and_the_proposal_stays(
    client, volunteer, proposal
):
    sign_in(client, volunteer)

    response = client.post(reverse("task-decline", args=[proposal.pk]), {"reason": "x" * 300}, follow=True)

    assert response.status_code == 200
    assert "at most 255 characters" in response.content.decode()
    proposal.refresh_from_db()
    assert proposal.status == "proposed"


# Sign-up and "My account": people choose whether they get e-mails, and can change their details


def test_signup_records_whether_the_person_wants_e_mails(client, community):
    client.post(reverse("signup"), signup_data(community, email_notifications=""))
    assert User.objects.get(username="newcomer").email_notifications is False

    client.logout()
    client.post(reverse("signup"), signup_data(community, username="second", email_notifications="on"))
    assert User.objects.get(username="second").email_notifications is True


def test_signup_shows_the_pages_in_the_language_the_person_chose(client, community):
    response = client.post(reverse("signup"), signup_data(community, preferred_language="fr"))

    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"


def details_data(**changes) -> dict:
    data = {
        "first_name": "Jan",
        "last_name": "Peeters",
        "email": "jan@example.org",
        "phone": "016 12 34 56",
        "preferred_language": "nl",
        "email_notifications": "on",
    }
    data.update(changes)
    return data


def test_a_person_changes_their_details_and_stops_e_mails_on_my_account(client, citizen):
    sign_in(client, citizen)

    response = client.post(reverse("account"), details_data(email_notifications="", phone="0470 11 22 33"))

    assert response.status_code == 302
    citizen.refresh_from_db()
    assert (citizen.phone, citizen.email_notifications, citizen.is_active) == ("0470 11 22 33", False, True)
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "nl"


def test_a_bad_e_mail_address_is_explained_next_to_the_field_and_nothing_changes(client, citizen):
    before = (citizen.email, citizen.phone)
    sign_in(client, citizen)

    response = client.post(reverse("account"), details_data(email="not an address", phone="1"))

    assert response.status_code == 200
    assert response.context["details_form"].errors["email"]
    assert "Enter a valid email address." in response.content.decode()
    citizen.refresh_from_db()
    assert (citizen.email, citizen.phone) == before


def test_my_account_shows_the_persons_current_details(client, citizen):
    sign_in(client, citizen)

    form = client.get(reverse("account")).context["details_form"]

    assert form["email"].value() == citizen.email
    assert form["email_notifications"].value() == citizen.email_notifications


def test_a_person_who_forgot_their_password_chooses_a_new_one_from_the_e_mailed_link(
    client, citizen, mailoutbox
):
    citizen.email = "peeters@example.org"
    citizen.save()
    assert reverse("password_reset") in client.get(reverse("login")).text

    page = client.get(reverse("password_reset"))
    assert "Forgot your password?" in page.text and "Django site admin" not in page.text
    client.post(reverse("password_reset"), {"email": "peeters@example.org"})
    link = next(line for line in mailoutbox[0].body.splitlines() if "/reset/" in line).strip()
    choose = client.get(link, follow=True)
    assert "Choose a new password" in choose.text
    done = client.post(
        choose.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-password-7", "new_password2": "a-brand-new-password-7"},
        follow=True,
    )

    assert "Your new password is saved" in done.text
    assert client.login(username=citizen.username, password="a-brand-new-password-7")
