"""Browser push notifications: the subscription saved from the account page, a proposal
delivered encrypted and signed through the outbox to a local push service (which decrypts
it as the browser would), gone subscriptions, retries, and the service worker's files."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from matching.services import run_due_matching
from mutualaid.aid import services
from mutualaid.aid.personal_data import account_delete, personal_data_export
from notifications.management.commands.generate_vapid_keys import new_vapid_keys
from notifications.models import OutgoingMessage, PushSubscription
from notifications.outbox import send_pending_messages
from tests.conftest import PASSWORD, sign_in
from tests.notifications.push_service import BrowserKeys, LocalPushService, decrypt, verify_vapid

VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY = new_vapid_keys()


@pytest.fixture(autouse=True)
def push_is_set_up(settings, db, volunteer, second_volunteer):
    for person in (volunteer, second_volunteer):
        person.preferred_language = "en"
        person.save()
    settings.VAPID_PUBLIC_KEY = VAPID_PUBLIC_KEY
    settings.VAPID_PRIVATE_KEY = VAPID_PRIVATE_KEY
    settings.VAPID_SUBJECT = "mailto:coordinators@example.org"


@pytest.fixture
def push_service():
    with LocalPushService() as service:
        yield service


def subscribe(person, endpoint: str, keys: BrowserKeys) -> PushSubscription:
    return PushSubscription.objects.create(
        person=person, endpoint=endpoint, p256dh=keys.p256dh, auth=keys.auth
    )


def pushes() -> list[OutgoingMessage]:
    return list(OutgoingMessage.objects.filter(channel=OutgoingMessage.Channel.PUSH).order_by("pk"))


def test_a_proposal_reaches_the_volunteers_browser_encrypted_signed_and_opening_the_task(
    help_request, volunteer, push_service, settings
):
    keys = BrowserKeys()
    subscribe(volunteer, push_service.endpoint("volunteer-phone"), keys)

    proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    send_pending_messages()

    (delivered,) = push_service.delivered
    assert delivered.path == "/push/volunteer-phone"
    claims, signing_key = verify_vapid(delivered.headers["authorization"], audience=push_service.origin)
    assert signing_key == settings.VAPID_PUBLIC_KEY  # the key the browser subscribed with
    assert claims["sub"] == "mailto:coordinators@example.org"
    assert int(delivered.headers["ttl"]) > 0
    payload = json.loads(decrypt(delivered, keys))
    assert payload["url"] == f"/volunteer/tasks/{proposal.pk}/"
    assert payload["title"] == "A neighbour needs help: Shopping"
    assert "Leuven centrum" in payload["body"] and "0.7 km" in payload["body"]
    # Coarse before acceptance, like the e-mail: no name, no address.
    assert "Peeters" not in json.dumps(payload) and "Naamsestraat" not in json.dumps(payload)
    (message,) = pushes()
    assert message.status == OutgoingMessage.Status.SENT and message.attempts == 1


def test_each_browser_of_the_volunteer_gets_it_and_nobody_else(
    help_request, volunteer, second_volunteer, citizen, push_service
):
    phone, laptop, other = BrowserKeys(), BrowserKeys(), BrowserKeys()
    subscribe(volunteer, push_service.endpoint("phone"), phone)
    subscribe(volunteer, push_service.endpoint("laptop"), laptop)
    subscribe(second_volunteer, push_service.endpoint("other"), other)

    services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    assert send_pending_messages() == 2

    by_path = {delivered.path: delivered for delivered in push_service.delivered}
    assert set(by_path) == {"/push/phone", "/push/laptop"}
    assert json.loads(decrypt(by_path["/push/phone"], phone)) == json.loads(
        decrypt(by_path["/push/laptop"], laptop)
    )


def test_a_proposal_arrives_in_the_volunteers_language(help_request, volunteer, push_service):
    volunteer.preferred_language = "nl"
    volunteer.save()
    keys = BrowserKeys()
    subscribe(volunteer, push_service.endpoint("phone"), keys)
    services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    send_pending_messages()
    payload = json.loads(decrypt(push_service.delivered[0], keys))
    assert payload["title"].startswith("Een buur")


def test_matching_runs_push_their_proposals_too(help_request, volunteer, push_service):
    keys = BrowserKeys()
    subscribe(volunteer, push_service.endpoint("phone"), keys)
    run_due_matching()
    (message,) = pushes()
    assert message.proposal is not None and message.proposal.volunteer_id == volunteer.pk
    send_pending_messages()
    assert (
        json.loads(decrypt(push_service.delivered[0], keys))["url"]
        == f"/volunteer/tasks/{message.proposal_id}/"
    )


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_says_is_gone_is_removed_and_not_retried(
    help_request, volunteer, status
):
    with LocalPushService(status=status) as push_service:
        subscribe(volunteer, push_service.endpoint("gone"), BrowserKeys())
        services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
        assert send_pending_messages() == 0
        assert len(push_service.delivered) == 1
    assert not PushSubscription.objects.exists()
    (message,) = pushes()
    assert message.status == OutgoingMessage.Status.SKIPPED
    assert f"({status})" in message.last_error


def test_a_push_service_that_fails_is_retried_later_and_the_change_stands(help_request, volunteer):
    with LocalPushService(status=503) as push_service:
        subscribe(volunteer, push_service.endpoint("busy"), BrowserKeys())
        proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
        assert send_pending_messages() == 0
    (message,) = pushes()
    assert message.status == OutgoingMessage.Status.PENDING and message.attempts == 1
    assert "503" in message.last_error
    assert message.next_attempt_at > message.created_at
    assert PushSubscription.objects.count() == 1
    proposal.refresh_from_db()
    assert proposal.status == "proposed"


def test_an_answered_proposal_is_not_pushed_any_more(help_request, volunteer, push_service):
    subscribe(volunteer, push_service.endpoint("phone"), BrowserKeys())
    proposal = services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    services.assignment_decline(assignment=proposal, volunteer=volunteer)
    send_pending_messages()
    assert push_service.delivered == []
    assert pushes()[0].status == OutgoingMessage.Status.SKIPPED


def test_nothing_is_pushed_when_push_is_not_set_up(help_request, volunteer, settings):
    settings.VAPID_PRIVATE_KEY = ""
    subscribe(volunteer, "https://push.example.org/volunteer", BrowserKeys())
    services.assignment_propose(help_request=help_request, volunteer=volunteer, km=0.7)
    assert pushes() == []


# --- the account page's endpoints ---------------------------------------------------------


def browser_subscription(
    endpoint: str = "https://push.example.org/send/abc123", keys: BrowserKeys | None = None
):
    keys = keys or BrowserKeys()
    return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": keys.p256dh, "auth": keys.auth}}


def logged_in(person, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=person.username, password=PASSWORD)
    return client


def post_json(client: Client, name: str, data) -> tuple[int, dict]:
    body = data if isinstance(data, str) else json.dumps(data)
    response = client.post(reverse(name), body, content_type="application/json")
    return response.status_code, response.json()


def test_a_volunteer_saves_their_browsers_subscription(volunteer):
    subscription = browser_subscription()
    status, answer = post_json(logged_in(volunteer), "push-subscribe", subscription)
    assert (status, answer) == (201, {"subscribed": True})
    saved = PushSubscription.objects.get()
    assert (saved.person, saved.endpoint, saved.p256dh, saved.auth) == (
        volunteer,
        subscription["endpoint"],
        subscription["keys"]["p256dh"],
        subscription["keys"]["auth"],
    )


def test_subscribing_needs_the_csrf_token(volunteer):
    client = logged_in(volunteer, csrf=True)
    response = client.post(
        reverse("push-subscribe"), json.dumps(browser_subscription()), content_type="application/json"
    )
    assert response.status_code == 403
    assert not PushSubscription.objects.exists()
    client.get(reverse("account"))  # the page sets the token the script sends back
    response = client.post(
        reverse("push-subscribe"),
        json.dumps(browser_subscription()),
        content_type="application/json",
        headers={"X-CSRFToken": client.cookies["csrftoken"].value},
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("not json", "JSON object"),
        ([1, 2], "JSON object"),
        ({"keys": {}}, "no endpoint"),
        ({**browser_subscription(), "endpoint": "http://push.example.org/x"}, "https"),
        ({**browser_subscription(), "endpoint": "https://push.example.org/" + "x" * 500}, "too long"),
        ({"endpoint": "https://push.example.org/x"}, "no keys"),
        ({"endpoint": "https://push.example.org/x", "keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "p256dh"),
        (
            {
                "endpoint": "https://push.example.org/x",
                "keys": {"p256dh": "BAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"},
            },
            "P-256",
        ),
        (
            {
                "endpoint": "https://push.example.org/x",
                "keys": {"p256dh": BrowserKeys().p256dh, "auth": "AAAA"},
            },
            "16 bytes",
        ),
        ({"endpoint": "https://push.example.org/x", "keys": {"p256dh": "!!!", "auth": "AAAA"}}, "base64url"),
    ],
)
def test_a_subscription_that_cannot_be_used_gets_a_json_error_with_the_reason(volunteer, data, reason):
    status, answer = post_json(logged_in(volunteer), "push-subscribe", data)
    assert status == 400
    assert reason in answer["error"]
    assert not PushSubscription.objects.exists()


def test_subscribing_says_so_when_push_is_not_set_up(volunteer, settings):
    settings.VAPID_PUBLIC_KEY = ""
    status, answer = post_json(logged_in(volunteer), "push-subscribe", browser_subscription())
    assert status == 409 and "not set up" in answer["error"]


def test_a_browser_used_by_someone_else_since_notifies_only_the_last_person(volunteer, second_volunteer):
    subscription = browser_subscription()
    post_json(logged_in(volunteer), "push-subscribe", subscription)
    post_json(logged_in(second_volunteer), "push-subscribe", subscription)
    assert list(PushSubscription.objects.values_list("person", flat=True)) == [second_volunteer.pk]


def test_turning_notifications_off_removes_only_ones_own_subscription(volunteer, second_volunteer):
    mine, theirs = (
        browser_subscription("https://push.example.org/mine"),
        browser_subscription("https://push.example.org/theirs"),
    )
    post_json(logged_in(volunteer), "push-subscribe", mine)
    post_json(logged_in(second_volunteer), "push-subscribe", theirs)
    assert post_json(logged_in(volunteer), "push-unsubscribe", {"endpoint": theirs["endpoint"]}) == (
        200,
        {"subscribed": False, "removed": 0},
    )
    assert post_json(logged_in(volunteer), "push-unsubscribe", {"endpoint": mine["endpoint"]}) == (
        200,
        {"subscribed": False, "removed": 1},
    )
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [theirs["endpoint"]]
    status, answer = post_json(logged_in(volunteer), "push-unsubscribe", {})
    assert status == 400 and "endpoint" in answer["error"]


def test_the_account_page_offers_notifications_only_when_push_is_set_up(volunteer, settings):
    client = logged_in(volunteer)
    page = client.get(reverse("account")).content.decode()
    assert "data-push" in page and VAPID_PUBLIC_KEY in page and "js/push.js" in page
    settings.VAPID_PUBLIC_KEY = ""
    page = client.get(reverse("account")).content.decode()
    assert "data-push" not in page and "js/push.js" not in page


def test_the_service_worker_is_served_from_the_root_as_javascript(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    source = response.content.decode()
    assert "showNotification" in source and "notificationclick" in source


def test_the_web_app_manifest_names_the_app_and_starts_at_the_inbox(client):
    response = client.get("/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["start_url"] == "/volunteer/inbox/" and manifest["display"] == "standalone"
    assert '<link rel="manifest" href="/manifest.webmanifest">' in client.get("/").content.decode()


def test_deleting_the_account_forgets_its_browsers_and_the_export_lists_them(volunteer):
    subscribe(volunteer, "https://push.example.org/volunteer", BrowserKeys())
    exported = personal_data_export(volunteer)["account"]["push_notifications_in_browsers"]
    assert [entry["endpoint"] for entry in exported] == ["https://push.example.org/volunteer"]
    account_delete(person=volunteer)
    assert not PushSubscription.objects.exists()


def test_generated_vapid_keys_are_a_p256_pair_browsers_take():
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.notifications.push_service import unbase64url

    public, private = new_vapid_keys()
    point = unbase64url(public)
    assert len(point) == 65 and point[0] == 4
    derived = ec.derive_private_key(int.from_bytes(unbase64url(private), "big"), ec.SECP256R1()).public_key()
    assert (
        derived.public_numbers()
        == ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point).public_numbers()
    )


def test_a_person_keeps_at_most_ten_browsers(volunteer):
    client = logged_in(volunteer)
    for number in range(12):
        post_json(client, "push-subscribe", browser_subscription(f"https://push.example.org/{number}"))
    assert PushSubscription.objects.filter(person=volunteer).count() == 10
    assert not PushSubscription.objects.filter(
        endpoint__in=["https://push.example.org/0", "https://push.example.org/1"]
    ).exists()


@pytest.mark.parametrize("name", ["push-subscribe", "push-unsubscribe"])
def test_a_form_post_instead_of_json_gets_a_reason_not_a_server_error(client, volunteer, name, settings):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "public", "private"
    sign_in(client, volunteer)

    response = client.post(reverse(name), {"endpoint": "https://push.example.org/x"})

    assert response.status_code == 400
    assert response.json()["error"] == "Send the browser's subscription as a JSON object."
