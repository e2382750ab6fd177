"""The domain of the service: who needs help, who offers it, and the tasks between them.

State changes never happen here: they go through `services.py`, which checks the
transition against `states.py`, records a `StatusChange` and publishes events.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _

from mutualaid.aid.identity import DEFAULT_ACCENT_COLOUR, validate_accent_colour
from mutualaid.aid.states import MOST_ASKED_AT_ONCE, AssignmentStatus, RequestStatus


def default_time_zone() -> str:
    return settings.TIME_ZONE


def validate_time_zone(name: str) -> None:
    if name not in zoneinfo.available_timezones():
        raise ValidationError(_("Give a time zone such as Europe/Brussels."))


class HelpLineDays(models.TextChoices):
    WEEKDAYS = "weekdays", _("Monday to Friday")
    WEEKDAYS_AND_SATURDAY = "weekdays_saturday", _("Monday to Saturday")
    EVERY_DAY = "every_day", _("every day")


class Community(models.Model):
    """A town or neighbourhood running its own mutual-aid service on this deployment."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), unique=True)
    latitude = models.FloatField(_("latitude of the centre"))
    longitude = models.FloatField(_("longitude of the centre"))
    contact_phone = models.CharField(_("phone line for people who are not online"), max_length=32, blank=True)
    # Quiet hours for text messages are this zone's nights.
    time_zone = models.CharField(
        _("time zone"), max_length=64, default=default_time_zone, validators=[validate_time_zone]
    )
    # The city's identity (mutualaid/aid/identity.py), set by its coordinators.
    service_name = models.CharField(
        _("name of the service"),
        max_length=60,
        blank=True,
        help_text=_("As people know it, e.g. “Leuven Helps”. Shown on every page and in every e-mail."),
    )
    accent_colour = models.CharField(
        _("colour"),
        max_length=7,
        default=DEFAULT_ACCENT_COLOUR,
        validators=[validate_accent_colour],
        help_text=_("The header's colour, as #rrggbb: dark enough for white text on it (contrast 4.5:1)."),
    )
    # Stored in the database, not as a file: every daphne serves it without shared storage.
    logo = models.BinaryField(_("logo"), blank=True, null=True, editable=False)
    logo_content_type = models.CharField(max_length=20, blank=True, editable=False)
    help_line_days = models.CharField(
        _("help line open on"), max_length=20, choices=HelpLineDays.choices, blank=True
    )
    help_line_opens = models.TimeField(_("opens at"), null=True, blank=True)
    help_line_closes = models.TimeField(_("closes at"), null=True, blank=True)
    # When volunteers far outnumber needs, new ones wait on a list until a coordinator lets
    # them in (Leuven Helpt had about 1,490 volunteers for 120 requests in ten days).
    volunteer_waiting_list = models.BooleanField(
        _("new volunteers join a waiting list"), default=False, editable=False
    )
    identity_changed_at = models.DateTimeField(auto_now=True)
    # The most a volunteer may ask back for one shopping or pharmacy run (services/expenses.py).
    expense_cap = models.DecimalField(
        _("most a volunteer may spend per task (EUR)"),
        max_digits=7,
        decimal_places=2,
        default=Decimal("50.00"),
        validators=[MinValueValidator(Decimal("0.00"))],
        help_text=_("Volunteers cannot record an expense above it; the person pays it back."),
    )

    class Meta:
        verbose_name = _("community")
        verbose_name_plural = _("communities")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def localized_name(name: str, name_nl: str, name_fr: str) -> str:
    """A category's name in the active language, the English one when none is given."""
    return {"nl": name_nl, "fr": name_fr}.get(get_language() or "en", "") or name


class Category(models.Model):
    """A kind of help (shopping, pharmacy...): what a request needs and a volunteer offers.

    Coordinators edit their community's list in the admin; `slug` is the skill name the
    matching engine compares.
    """

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="categories")
    slug = models.SlugField(_("code"))
    name = models.CharField(_("name (English)"), max_length=80)
    # Coordinators' own words for their categories, so a translation catalogue cannot hold
    # them: one field per language of the service; empty falls back to the English name.
    name_nl = models.CharField(_("name (Dutch)"), max_length=80, blank=True)
    name_fr = models.CharField(_("name (French)"), max_length=80, blank=True)
    is_active = models.BooleanField(_("offered"), default=True)
    # Home visits, lifts: only a volunteer whose checks are valid (an ID seen and an
    # unexpired criminal-record extract) is proposed; matching treats it as a skill.
    requires_vetting = models.BooleanField(
        _("needs a vetted volunteer"),
        default=False,
        help_text=_("Only volunteers whose ID was seen and whose criminal-record extract is valid."),
    )
    # Shopping, pharmacy: the volunteer pays and the person pays them back (TaskExpense).
    carries_expenses = models.BooleanField(
        _("the volunteer may pay for something"),
        default=False,
        help_text=_("Shopping or medicines: the volunteer records what they paid; the person pays it back."),
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["community", "slug"], name="unique_category_slug")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """The name in the reader's language."""
        return localized_name(self.name, self.name_nl, self.name_fr)


class Urgency(models.IntegerChoices):
    # The value is the matching engine's priority: higher is served first.
    THIS_WEEK = 1, _("This week")
    SOON = 2, _("In the next two days")
    TODAY = 3, _("Today, it is urgent")


class SpokenLanguage(models.TextChoices):
    """Languages people can ask for help in; the engine treats one as a required skill."""

    DUTCH = "nl", _("Dutch")
    FRENCH = "fr", _("French")
    ENGLISH = "en", _("English")
    GERMAN = "de", _("German")
    ARABIC = "ar", _("Arabic")
    TURKISH = "tr", _("Turkish")
    SPANISH = "es", _("Spanish")
    POLISH = "pl", _("Polish")
    UKRAINIAN = "uk", _("Ukrainian")
    SIGN = "vgt", _("Flemish Sign Language")


class PartOfDay(models.IntegerChoices):
    MORNING = 0, _("Morning")
    AFTERNOON = 1, _("Afternoon")
    EVENING = 2, _("Evening")


# The hour (local time) at which each part of the day is over: no help can start in it after.
PART_OF_DAY_ENDS_AT_HOUR = {PartOfDay.MORNING: 12, PartOfDay.AFTERNOON: 17, PartOfDay.EVENING: 22}
# And the hour it starts, for "a day before the task" (as the partners' API reads them).
PART_OF_DAY_STARTS_AT_HOUR = {PartOfDay.MORNING: 8, PartOfDay.AFTERNOON: 13, PartOfDay.EVENING: 18}


def part_of_day_has_passed(date: dt.date, part: int, now: dt.datetime | None = None) -> bool:
    """Whether this part of this day is over, in the service's local time."""
    now = timezone.localtime(now)
    return date < now.date() or (date == now.date() and now.hour >= PART_OF_DAY_ENDS_AT_HOUR[part])


class CallKind(models.TextChoices):
    """The calls a coordinator takes on so that no one else makes them."""

    CALL_BACK = "call_back", _("call-back")
    FOLLOW_UP = "follow_up", _("follow-up")


class Place(models.Model):
    """A located address: what geocoding or a map pin produced."""

    address = models.CharField(_("address"), max_length=255, blank=True)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))
    neighbourhood = models.CharField(_("neighbourhood"), max_length=120, blank=True)

    class Meta:
        abstract = True


# The most volunteers one request may ask for (a bigger job is a coordinator's to plan).
MAX_PEOPLE_NEEDED = 6


class HelpRequest(Place):
    """What a citizen (or a coordinator on their behalf) asks for."""

    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="help_requests")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="help_requests",
        null=True,
        blank=True,
        help_text=_("Empty when a coordinator filed it for someone without an account."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # For people who phoned in (no account): whom the coordinator calls back.
    contact_name = models.CharField(_("name"), max_length=120, blank=True)
    contact_phone = models.CharField(_("phone"), max_length=32, blank=True)
    # The coordinator asked the caller: text them when someone is coming (a mobile number).
    text_caller = models.BooleanField(_("text the caller when someone is coming"), default=False)
    # Filed through the API by a partner organisation (a city's 311, a social service).
    partner = models.ForeignKey(
        "partners.PartnerOrganisation",
        verbose_name=_("filed by partner"),
        on_delete=models.PROTECT,
        related_name="help_requests",
        null=True,
        blank=True,
    )
    # One occurrence of a recurring request (weekly help): its series and the day it is for.
    series = models.ForeignKey(
        "HelpSeries",
        verbose_name=_("repeats as"),
        on_delete=models.PROTECT,
        related_name="occurrences",
        null=True,
        blank=True,
        editable=False,
    )
    series_date = models.DateField(null=True, blank=True, editable=False)
    # The last status the coordinator told the caller about (the call-back list's memory).
    called_back_status = models.CharField(max_length=16, blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="help_requests")
    description = models.TextField(_("what do you need?"), max_length=2000)
    urgency = models.PositiveSmallIntegerField(
        _("urgency"), choices=Urgency.choices, default=Urgency.THIS_WEEK
    )
    any_time = models.BooleanField(_("any time suits me"), default=False)
    # Moving a wardrobe takes two: each volunteer fills one place (their own Assignment).
    people_needed = models.PositiveSmallIntegerField(
        _("volunteers needed"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PEOPLE_NEEDED)],
    )
    # How many volunteers matching asks at once for each place: more than 1 for an urgent
    # request (MATCHING_URGENT_ASK_AT_ONCE), whose first volunteer to accept takes it. The
    # database holds the proposals to people_needed x this (migration 0025).
    asked_at_once = models.PositiveSmallIntegerField(
        _("volunteers asked at once"),
        default=1,
        editable=False,
        validators=[MinValueValidator(1), MaxValueValidator(MOST_ASKED_AT_ONCE)],
    )
    # When the citizen and the coordinators were told the task is still short of people.
    short_notice_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    language_needed = models.CharField(
        _("the helper must speak"), max_length=8, choices=SpokenLanguage.choices, blank=True
    )
    status = models.CharField(
        _("status"), max_length=16, choices=RequestStatus.choices, default=RequestStatus.OPEN, db_index=True
    )
    # Why the last matching run left the request waiting (an engine reason code).
    unassigned_reason = models.CharField(_("waiting because"), max_length=32, blank=True)
    # A coordinator's hold: matching leaves the request alone until then (it lapses by
    # itself; nothing needs to run when it does). Coordinators see who holds it. Set by the
    # services only (audited), so not editable in the admin.
    held_until = models.DateTimeField(_("held by a coordinator until"), null=True, blank=True, editable=False)
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    # A coordinator's "I'll call them" (a call-back or a follow-up), so two coordinators do
    # not call the same person. It lapses by itself at `call_taken_until` (nothing needs to
    # run); set by the services only (audited, race-safe), so not editable in the admin.
    call_kind = models.CharField(
        _("call taken"), max_length=16, choices=CallKind.choices, blank=True, editable=False
    )
    call_taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    call_taken_at = models.DateTimeField(_("call taken at"), null=True, blank=True, editable=False)
    call_taken_until = models.DateTimeField(_("call taken until"), null=True, blank=True, editable=False)
    # The key of the form (or API call) that filed it: a retried post with the same key
    # leads to this request instead of filing a second one (one key per person filing).
    idempotency_key = models.CharField(max_length=64, blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Written by the citizen after a volunteer accepted; shown to that volunteer only.
    note_for_volunteer = models.CharField(_("note for the volunteer"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("help request")
        verbose_name_plural = _("help requests")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["community", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="unique_help_request_idempotency_key",
            ),
            # Never two occurrences of a series for one day, even with two workers at once.
            models.UniqueConstraint(fields=["series", "series_date"], name="one_occurrence_per_series_day"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category} ({self.get_status_display()})"

    @property
    def needs_several(self) -> bool:
        return self.people_needed > 1

    def coming(self) -> list:
        """The assignments of the volunteers found (who is coming; of several, those who did
        their part already too), in the order they accepted."""
        live = getattr(self, "live_assignments", None)
        if live is not None and not self.needs_several:
            return [assignment for assignment in live if assignment.status == AssignmentStatus.ACCEPTED]
        found = [AssignmentStatus.ACCEPTED] + ([AssignmentStatus.DONE] if self.needs_several else [])
        found_here = self.assignments.filter(status__in=found).select_related("volunteer")
        return list(found_here.order_by("responded_at", "pk"))

    def places_accepted(self) -> int:
        """How many of its places a volunteer accepted."""
        return len(self.coming())

    def places_done(self) -> int:
        """Places whose volunteer did their part while the others' are not done yet."""
        return self.assignments.filter(status=AssignmentStatus.DONE).count() if self.needs_several else 0

    @property
    def is_held(self) -> bool:
        """Whether a coordinator's hold keeps matching away now (an expired one does not)."""
        return self.held_until is not None and self.held_until > timezone.now()

    @property
    def call_is_taken(self) -> bool:
        """Whether a coordinator has taken its call now (a lapsed claim does not count)."""
        return (
            self.call_taken_by_id is not None
            and self.call_taken_until is not None
            and self.call_taken_until > timezone.now()
        )


class TimeWindow(models.Model):
    """A part of a day in which the help is wanted."""

    help_request = models.ForeignKey(HelpRequest, on_delete=models.CASCADE, related_name="time_windows")
    date = models.DateField(_("date"))
    part_of_day = models.PositiveSmallIntegerField(_("part of day"), choices=PartOfDay.choices)

    class Meta:
        verbose_name = _("time window")
        verbose_name_plural = _("time windows")
        ordering = ["date", "part_of_day"]
        constraints = [
            models.UniqueConstraint(fields=["help_request", "date", "part_of_day"], name="unique_time_window")
        ]

    def __str__(self) -> str:
        # "Thu 4 Dec, morning": the part of the day in lower case mid-phrase, as Dutch and
        # French write it ("do 4 dec, ochtend", "jeu. 4 déc., matin").
        return f"{date_format(self.date, 'MONTH_DAY_FORMAT')}, {self.get_part_of_day_display().lower()}"

    def has_passed(self, now: dt.datetime | None = None) -> bool:
        return part_of_day_has_passed(self.date, self.part_of_day, now)

    def starts_at(self) -> dt.datetime:
        """When this part of the day begins, in the service's local time."""
        return timezone.make_aware(
            dt.datetime.combine(self.date, dt.time(PART_OF_DAY_STARTS_AT_HOUR[self.part_of_day]))
        )

    @property
    def weekly_slot(self) -> int:
        """The engine's slot number: 7 days x 3 parts, Monday morning = 0."""
        return self.date.weekday() * 3 + self.part_of_day


class TeamNote(models.Model):
    """A coordinator's note on a request for the other coordinators of its community only
    (never shown to the citizen, the volunteer, a referrer or the API)."""

    help_request = models.ForeignKey(HelpRequest, on_delete=models.CASCADE, related_name="team_notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("note for the team"), max_length=1000)
    created_at = models.DateTimeField(_("written"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("team note")
        verbose_name_plural = _("team notes")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"#{self.help_request_id} {self.created_at:%Y-%m-%d %H:%M}"


class VolunteerOffer(Place):
    """A volunteer's profile: what, where, when and how much they can help."""

    volunteer = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="volunteer_offer"
    )
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="volunteer_offers")
    skills = models.ManyToManyField(Category, verbose_name=_("I can help with"), related_name="volunteers")
    max_km = models.FloatField(_("how far I will travel (km)"), default=3.0)
    # Weekly slots (0..20: Monday morning .. Sunday evening) in which the volunteer is free.
    availability = models.JSONField(_("when I am free"), default=list)
    languages = models.JSONField(_("languages I speak"), default=list)
    capacity = models.PositiveSmallIntegerField(_("tasks at once"), default=1)
    is_paused = models.BooleanField(_("paused"), default=False)
    # "I can help in the next hours" (urgent requests only): on until then, off by itself.
    available_now_until = models.DateTimeField(
        _("available now until"), null=True, blank=True, editable=False
    )
    # On the community's waiting list since then (no proposals) until a coordinator lets them in.
    waiting_since = models.DateTimeField(
        _("on the waiting list since"), null=True, blank=True, editable=False
    )
    # A coordinator's safeguarding decision (not the volunteer's own pause): no proposals and
    # no task actions until it is lifted. Set by the services only (audited).
    suspended_at = models.DateTimeField(_("suspended since"), null=True, blank=True, editable=False)
    suspended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    suspension_reason = models.CharField(
        _("reason for the suspension"), max_length=500, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("volunteer offer")
        verbose_name_plural = _("volunteer offers")
        constraints = [
            models.CheckConstraint(condition=models.Q(max_km__gt=0), name="offer_max_km_positive"),
            models.CheckConstraint(condition=models.Q(capacity__lte=10), name="offer_capacity_at_most_10"),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer} ({self.community})"

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    def is_available_now(self, now: dt.datetime | None = None) -> bool:
        return self.available_now_until is not None and self.available_now_until > (now or timezone.now())


class VolunteerCheck(models.Model):
    """A coordinator's record that they checked something about a volunteer: who, what, when.

    Never edited: a new check is recorded instead, and one that ends (an extract past its
    expiry) simply no longer counts, compared with today's date whenever it is read.
    """

    class Kind(models.TextChoices):
        ID_SEEN = "id_seen", _("Identity document seen")
        # Belgium's "uittreksel uit het strafregister model 2" / "extrait de casier judiciaire
        # modèle 2", for work with minors or vulnerable people.
        CRIMINAL_RECORD = "criminal_record_2", _("Criminal-record extract (model 2)")

    volunteer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="volunteer_checks"
    )
    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="volunteer_checks")
    kind = models.CharField(_("what was checked"), max_length=24, choices=Kind.choices)
    checked_on = models.DateField(_("checked on"))
    expires_on = models.DateField(_("valid until"), null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("checked by")
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("volunteer check")
        verbose_name_plural = _("volunteer checks")
        ordering = ["-checked_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.volunteer_id} {self.checked_on}"

    def is_valid_on(self, day: dt.date) -> bool:
        """At its expiry date a check no longer counts."""
        return self.checked_on <= day and (self.expires_on is None or day < self.expires_on)


# Both are needed to be vetted; the extract always carries an expiry date.
VETTING_CHECKS = (VolunteerCheck.Kind.ID_SEEN, VolunteerCheck.Kind.CRIMINAL_RECORD)


def vetted_volunteer_ids(volunteer_ids, day: dt.date) -> set[int]:
    """Those of these volunteers who are vetted on `day` (every check of VETTING_CHECKS valid)."""
    valid = (
        VolunteerCheck.objects.filter(volunteer_id__in=volunteer_ids, checked_on__lte=day)
        .filter(models.Q(expires_on__isnull=True) | models.Q(expires_on__gt=day))
        .values_list("volunteer_id", "kind")
        .distinct()
    )
    kinds: dict[int, set[str]] = {}
    for volunteer_id, kind in valid:
        kinds.setdefault(volunteer_id, set()).add(kind)
    return {volunteer_id for volunteer_id, held in kinds.items() if held >= set(VETTING_CHECKS)}


class Assignment(models.Model):
    """A request proposed to one volunteer: the task they accept, decline and complete."""

    help_request = models.ForeignKey(HelpRequest, on_delete=models.PROTECT, related_name="assignments")
    volunteer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=AssignmentStatus.choices,
        default=AssignmentStatus.PROPOSED,
        db_index=True,
    )
    km = models.FloatField(_("distance (km)"))
    proposed_at = models.DateTimeField(_("proposed"), auto_now_add=True)
    expires_at = models.DateTimeField(_("answer before"))
    responded_at = models.DateTimeField(_("answered"), null=True, blank=True)
    decline_reason = models.CharField(_("reason for declining"), max_length=255, blank=True)
    hours_spent = models.FloatField(_("hours spent"), null=True, blank=True)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["-proposed_at"]
        constraints = [
            # The database, not only the code, keeps a volunteer from holding two places of
            # one request.
            models.UniqueConstraint(
                fields=["help_request", "volunteer"],
                condition=models.Q(status__in=[AssignmentStatus.PROPOSED, AssignmentStatus.ACCEPTED]),
                name="one_live_assignment_per_volunteer_and_request",
            )
        ]
        # Capacity (live tasks per volunteer) and places (live assignments per request, at
        # most its `people_needed`) are guarded by triggers, since a constraint cannot count
        # rows: see migrations 0006_volunteer_capacity_guard and 0018's places guard.

    def __str__(self) -> str:
        return f"{self.help_request} -> {self.volunteer} ({self.get_status_display()})"

    @property
    def short_code(self) -> str:
        """The 4 digits a volunteer quotes in a text message to say which task they answer
        (a volunteer has at most 10 live tasks, so two of theirs share one only by a rare
        chance; a code that names several gets the help line)."""
        return str(1000 + self.pk % 9000)


class CoordinatorMessage(models.Model):
    """A message a coordinator sent to one volunteer or a group of them (logged)."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"), max_length=5000)
    volunteer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    skill = models.ForeignKey(Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    neighbourhood = models.CharField(_("neighbourhood"), max_length=120, blank=True)
    recipients = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("coordinator message")
        verbose_name_plural = _("coordinator messages")
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"{self.subject} ({self.recipients})"


class StatusChange(models.Model):
    """One recorded transition of a request or an assignment: who, when, from, to, why."""

    class Subject(models.TextChoices):
        REQUEST = "request", _("help request")
        ASSIGNMENT = "assignment", _("assignment")

    # PROTECT: the history outlives nothing it describes. Requests are cancelled and their
    # details forgotten, never deleted; the database refuses deleting a record (0007).
    help_request = models.ForeignKey(HelpRequest, on_delete=models.PROTECT, related_name="status_changes")
    assignment = models.ForeignKey(
        Assignment, on_delete=models.PROTECT, related_name="status_changes", null=True, blank=True
    )
    subject = models.CharField(max_length=16, choices=Subject.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the system made the change (matching, expiry)."),
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["at", "pk"]

    # Reasons the system writes, as codes (stable in the records), shown in people's language.
    SYSTEM_REASONS = {
        "created": _("request posted"),
        "matching": _("proposed by matching"),
        "declined": _("the volunteer could not help"),
        "expired": _("no answer in time"),
        "changed": _("the request was changed"),
        "time_passed": _("every time chosen has passed"),
        "no answer in time": _("no answer in time"),
        "account deleted": _("account deleted"),
        "standing": _("the volunteer who comes every week"),
        "series cancelled": _("the repeated help was cancelled"),
        "series paused": _("the repeated help is paused"),
        "vetting lapsed": _("the volunteer's checks are no longer valid"),
        "taken by another": _("another volunteer accepted first"),
    }
    COORDINATOR_PREFIX = "coordinator: "

    def __str__(self) -> str:
        return f"{self.subject} {self.from_status or '-'} -> {self.to_status}"

    def _status_label(self, status: str) -> str:
        choices = RequestStatus if self.subject == self.Subject.REQUEST else AssignmentStatus
        return str(choices(status).label) if status in choices.values else status

    @property
    def from_status_label(self) -> str:
        return self._status_label(self.from_status) if self.from_status else ""

    @property
    def to_status_label(self) -> str:
        return self._status_label(self.to_status)

    @property
    def reason_label(self) -> str:
        """The reason in the reader's language; what people wrote is shown as written."""
        if self.reason in self.SYSTEM_REASONS:
            return str(self.SYSTEM_REASONS[self.reason])
        if self.reason.startswith(self.COORDINATOR_PREFIX):
            return _("coordinator: %(reason)s") % {
                "reason": self.reason.removeprefix(self.COORDINATOR_PREFIX)
            }
        return self.reason


class AuditEntry(models.Model):
    """An append-only record of what a coordinator (or a person about their data) did.

    Append-only in the database too (migration 0007): updating or deleting a row is refused
    by a trigger, so neither the ORM, the admin nor a future bug can rewrite it. Hence
    PROTECT: deleting the community or the person it names would have to rewrite it.
    """

    community = models.ForeignKey(
        Community, on_delete=models.PROTECT, related_name="audit_entries", null=True
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(max_length=40, db_index=True)
    subject = models.CharField(max_length=80, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.subject}"


class ConcernReport(models.Model):
    """A safeguarding concern about a person, told privately to the community's coordinators.

    The reported person never sees it, nor who wrote it; only coordinators of the community do.
    """

    class About(models.TextChoices):
        VOLUNTEER = "volunteer", _("the volunteer")
        REQUESTER = "requester", _("the person asking for help")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DEALT_WITH = "dealt_with", _("Dealt with")

    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="concern_reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Empty for a caller without an account (their name is the request's).
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    about = models.CharField(_("about"), max_length=16, choices=About.choices)
    help_request = models.ForeignKey(HelpRequest, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("what happened"), max_length=3000)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("reported"), auto_now_add=True, db_index=True)
    dealt_with_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    dealt_with_at = models.DateTimeField(_("dealt with"), null=True, blank=True)

    class Meta:
        verbose_name = _("concern report")
        verbose_name_plural = _("concern reports")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_about_display()} #{self.help_request_id} ({self.get_status_display()})"


class TaskFeedback(models.Model):
    """The citizen's one answer once their task is done: thanks for the volunteer, or "the
    help did not come", which the community's coordinators follow up (services/closing.py)."""

    class Kind(models.TextChoices):
        THANKS = "thanks", _("Thanks")
        NOT_HELPED = "not_helped", _("The help did not come")

    help_request = models.OneToOneField(HelpRequest, on_delete=models.PROTECT, related_name="feedback")
    kind = models.CharField(_("answer"), max_length=16, choices=Kind.choices)
    # Passed to the volunteer with a thanks; read by the coordinators with a complaint.
    message = models.CharField(_("message"), max_length=500, blank=True)
    # The citizen, or a coordinator answering for someone who phoned.
    given_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    given_at = models.DateTimeField(_("given"), auto_now_add=True)
    # A "did not come" stays on the coordinators' dashboard until one of them followed it up.
    followed_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    followed_up_at = models.DateTimeField(_("followed up"), null=True, blank=True)

    class Meta:
        verbose_name = _("answer after the task")
        verbose_name_plural = _("answers after the task")
        ordering = ["-given_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.help_request_id} {self.kind}"

    @property
    def needs_follow_up(self) -> bool:
        return self.kind == self.Kind.NOT_HELPED and self.followed_up_at is None


class TaskExpense(models.Model):
    """What a volunteer paid for a task (shopping, medicines) and whether they got it back.

    recorded -> repaid (the person confirms) or disputed (with a reason) -> settled (a
    coordinator, with a note). Every step is audited (services/expenses.py).
    """

    class Status(models.TextChoices):
        RECORDED = "recorded", _("Waiting for the person to confirm")
        REPAID = "repaid", _("Paid back")
        DISPUTED = "disputed", _("Disputed")
        SETTLED = "settled", _("Settled by a coordinator")

    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="expense")
    # One per request: recorded once the task is done, and a request is done once.
    help_request = models.OneToOneField(HelpRequest, on_delete=models.PROTECT, related_name="expense")
    amount = models.DecimalField(
        _("amount paid (EUR)"),
        max_digits=7,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    receipt_note = models.CharField(_("receipt (optional)"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECORDED)
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    dispute_reason = models.CharField(_("why it is disputed"), max_length=500, blank=True)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    settled_at = models.DateTimeField(_("settled"), null=True, blank=True)
    settlement_note = models.CharField(_("how it was settled"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("task expense")
        verbose_name_plural = _("task expenses")
        ordering = ["-recorded_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="expense_amount_positive")
        ]

    def __str__(self) -> str:
        return f"#{self.help_request_id} {self.amount} ({self.status})"


class RepeatEvery(models.IntegerChoices):
    """How often a recurring request comes back, in weeks."""

    WEEK = 1, _("Every week")
    TWO_WEEKS = 2, _("Every two weeks")


class HelpSeries(Place):
    """Help asked for again and again (weekly shopping, a weekly call): the rule, and what
    each occurrence asks. The worker files each occurrence, an ordinary `HelpRequest`,
    `RECURRING_HELP_DAYS_AHEAD` days ahead (`services/series.py`)."""

    community = models.ForeignKey(Community, on_delete=models.PROTECT, related_name="help_series")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="help_series", null=True, blank=True
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    contact_name = models.CharField(_("name"), max_length=120, blank=True)
    contact_phone = models.CharField(_("phone"), max_length=32, blank=True)
    text_caller = models.BooleanField(default=False)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    description = models.TextField(_("what do you need?"), max_length=2000)
    language_needed = models.CharField(max_length=8, choices=SpokenLanguage.choices, blank=True)
    # An RFC 5545 recurrence rule ("FREQ=WEEKLY;INTERVAL=2;UNTIL=20270131"), read from `starts`
    # (mutualaid/aid/recurrence.py): the day of the week is the first day's.
    rule = models.CharField(_("repeat rule"), max_length=200)
    starts = models.DateField(_("first day"))
    until = models.DateField(_("last day"), null=True, blank=True)
    part_of_day = models.PositiveSmallIntegerField(_("part of day"), choices=PartOfDay.choices)
    # Each occurrence asks for as many volunteers (a weekly task for two).
    people_needed = models.PositiveSmallIntegerField(
        _("volunteers needed"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PEOPLE_NEEDED)],
    )
    # Holidays: no occurrence on these days up to and with this one.
    paused_until = models.DateField(_("paused until"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    # Filed by a partner organisation (Open311, /api/v1/): each occurrence is its request too.
    partner = models.ForeignKey(
        "partners.PartnerOrganisation",
        verbose_name=_("filed by partner"),
        on_delete=models.PROTECT,
        related_name="help_series",
        null=True,
        blank=True,
    )
    # Volunteers who accepted "every week": each holds one place of every coming occurrence,
    # at once (at most `people_needed` of them: `services/series.py` checks, series locked).
    standing_volunteers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("volunteers every time"),
        related_name="standing_series",
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("repeated help")
        verbose_name_plural = _("repeated help")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(until__isnull=True) | models.Q(until__gte=models.F("starts")),
                name="series_until_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category} ({self.rule})"

    @property
    def every_weeks(self) -> int:
        from mutualaid.aid.recurrence import weeks_between

        return weeks_between(self.rule)

    @property
    def label(self) -> str:
        """ "Every Tuesday morning, until 31 Jan 2027" in the reader's language."""
        from mutualaid.aid.recurrence import describe

        return describe(self.every_weeks, self.starts, self.part_of_day, self.until)

    @property
    def label_with_people(self) -> str:
        """The rule in words, and how many volunteers each time when more than one
        ("Every Tuesday morning, 2 volunteers")."""
        if self.people_needed < 2:
            return self.label
        return ngettext(
            "%(repeat)s, %(count)s volunteer", "%(repeat)s, %(count)s volunteers", self.people_needed
        ) % {"repeat": self.label, "count": self.people_needed}

    def is_paused_on(self, day: dt.date) -> bool:
        return self.paused_until is not None and day <= self.paused_until
