"""Forms for citizens and volunteers: every bad input gets a message next to its field."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import InvalidOperation

import phonenumbers
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from mutualaid.accounts.models import User
from mutualaid.aid.geocoding import GeocodingError, locate, neighbourhood_near
from mutualaid.aid.identity import check_logo_size, checked_logo
from mutualaid.aid.models import (
    MAX_PEOPLE_NEEDED,
    Category,
    Community,
    HelpRequest,
    PartOfDay,
    RepeatEvery,
    SpokenLanguage,
    Urgency,
    VolunteerCheck,
    part_of_day_has_passed,
)
from mutualaid.aid.money import parse_money
from mutualaid.aid.places import Location
from mutualaid.aid.selectors import requests_with_phone
from notifications.channels.sms import is_mobile

DAYS = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"), _("Saturday"), _("Sunday")]
WEEKLY_SLOT_CHOICES = [
    (day_index * 3 + part.value, format_lazy("{} {}", day, part.label))
    for day_index, day in enumerate(DAYS)
    for part in PartOfDay
]
MAX_DAYS_AHEAD = 60
LARGEST_ID = 2**63 - 1


def _could_be_an_id(value) -> bool:
    try:
        return 0 < int(str(value)) <= LARGEST_ID
    except (TypeError, ValueError):
        return False


class BoundedModelChoiceField(forms.ModelChoiceField):
    """Refuses an id no row could have before asking the database, which would fail on
    it (SQLite overflows on integers past 64 bits) instead of saying "not a choice"."""

    def to_python(self, value):
        if value not in self.empty_values and not _could_be_an_id(value):
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """The same for several choices."""

    def _check_values(self, value):
        for pk in value:
            if not _could_be_an_id(pk):
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super()._check_values(value)


TIME_WINDOW_ROWS = 3


class PlaceFormMixin(forms.Form):
    """An address, or a point picked on the map (latitude and longitude)."""

    address = forms.CharField(
        label=_("Address"),
        max_length=255,
        required=False,
        help_text=_("Street, number and postcode, e.g. Naamsestraat 12, 3000 Leuven."),
    )
    latitude = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    longitude = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)

    def clean_location(self) -> Location | None:
        address = self.cleaned_data.get("address", "").strip()
        latitude, longitude = self.cleaned_data.get("latitude"), self.cleaned_data.get("longitude")
        if latitude is not None and longitude is not None:
            return Location(latitude, longitude, address, neighbourhood_near(latitude, longitude))
        if latitude is not None or longitude is not None:
            self.add_error("latitude", _("Give both latitude and longitude, or pick the place on the map."))
            return None
        if not address:
            self.add_error("address", _("Give your address or pick the place on the map."))
            return None
        try:
            return locate(address)
        except GeocodingError as error:
            self.add_error("address", str(error))
            return None


IDEMPOTENCY_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")


class IdempotencyKeyMixin(forms.Form):
    """A hidden key, new for each blank form: posting the same form twice (a retry after a
    timeout, a double click) files one request; the service finds it by this key."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)

    def clean_idempotency_key(self) -> str:
        key = self.cleaned_data.get("idempotency_key", "")
        # Only our own keys' shape; anything else files without a key (as before keys).
        return key if IDEMPOTENCY_KEY_PATTERN.fullmatch(key) else ""


class HelpRequestForm(IdempotencyKeyMixin, PlaceFormMixin):
    category = BoundedModelChoiceField(label=_("What kind of help?"), queryset=Category.objects.none())
    description = forms.CharField(
        label=_("What do you need?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("No address or phone number here: the volunteer gets those once they accept."),
    )
    urgency = forms.TypedChoiceField(
        label=_("How urgent is it?"), choices=Urgency.choices, coerce=int, initial=Urgency.THIS_WEEK
    )
    any_time = forms.BooleanField(label=_("Any time suits me"), required=False)
    language_needed = forms.ChoiceField(
        label=_("The helper must speak"),
        choices=[("", _("any language is fine")), *SpokenLanguage.choices],
        required=False,
    )
    people_needed = forms.IntegerField(
        label=_("How many volunteers?"),
        min_value=1,
        max_value=MAX_PEOPLE_NEEDED,
        initial=1,
        required=False,  # left empty (or posted by an older page): one volunteer
        help_text=_("More than one when it takes several people, such as carrying furniture."),
    )

    field_order = ["category", "description", "urgency", "address", "latitude", "longitude", "any_time"]

    def __init__(self, *args, community: Community, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = community.categories.filter(is_active=True)
        for row in range(1, TIME_WINDOW_ROWS + 1):
            self.fields[f"window_{row}_date"] = forms.DateField(
                label=_("Day %(row)s") % {"row": row},
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}),
            )
            self.fields[f"window_{row}_part"] = forms.TypedChoiceField(
                label=_("Part of day %(row)s") % {"row": row},
                choices=[("", "---------"), *PartOfDay.choices],
                coerce=int,
                required=False,
                empty_value=None,
            )

    def repeats(self) -> bool:
        """Whether the request repeats (then its days come from the repeat, not the rows)."""
        return False

    def clean_people_needed(self) -> int:
        return self.cleaned_data.get("people_needed") or 1

    def window_rows(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [
            (self[f"window_{row}_date"], self[f"window_{row}_part"]) for row in range(1, TIME_WINDOW_ROWS + 1)
        ]

    def clean(self) -> dict:
        cleaned = super().clean()
        today = timezone.localdate()
        windows = []
        for row in range(1, TIME_WINDOW_ROWS + 1):
            date, part = cleaned.get(f"window_{row}_date"), cleaned.get(f"window_{row}_part")
            if date is None and part is None:
                continue
            if date is None:
                self.add_error(f"window_{row}_date", _("Pick the day for this part of the day."))
            elif part is None:
                self.add_error(f"window_{row}_part", _("Pick morning, afternoon or evening."))
            elif date < today:
                self.add_error(f"window_{row}_date", _("This day has passed."))
            elif part_of_day_has_passed(date, part):
                self.add_error(
                    f"window_{row}_part", _("This part of today has passed: pick a later one or another day.")
                )
            elif date > today + dt.timedelta(days=MAX_DAYS_AHEAD):
                self.add_error(
                    f"window_{row}_date", _("Pick a day within %(days)s days.") % {"days": MAX_DAYS_AHEAD}
                )
            else:
                windows.append((date, part))
        half_filled = any(
            self.has_error(f"window_{row}_{part}")
            for row in range(1, TIME_WINDOW_ROWS + 1)
            for part in ("date", "part")
        )
        if not cleaned.get("any_time") and not windows and not half_filled and not self.repeats():
            self.add_error("any_time", _("Say when you need help, or tick 'any time suits me'."))
        cleaned["time_windows"] = windows
        cleaned["location"] = self.clean_location()
        return cleaned


class RepeatFieldsMixin(forms.Form):
    """Help every week or every two weeks on a day and part of the day, until a date or
    until cancelled (the request form and the phone intake; mutualaid/aid/services/series.py)."""

    repeat = forms.TypedChoiceField(
        label=_("Repeat"),
        choices=[("", _("No, once")), *RepeatEvery.choices],
        coerce=int,
        required=False,
        empty_value=None,
    )
    repeat_starts = forms.DateField(
        label=_("First day"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The help comes back on this day of the week."),
    )
    repeat_part = forms.TypedChoiceField(
        label=_("Part of day"),
        choices=[("", "---------"), *PartOfDay.choices],
        coerce=int,
        required=False,
        empty_value=None,
    )
    repeat_until = forms.DateField(
        label=_("Last day (optional)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Leave empty to go on until you cancel."),
    )

    def repeats(self) -> bool:
        return bool(self.cleaned_data.get("repeat"))

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("repeat"):
            return cleaned
        starts, part, until = (
            cleaned.get("repeat_starts"),
            cleaned.get("repeat_part"),
            cleaned.get("repeat_until"),
        )
        today = timezone.localdate()
        if starts is None:
            self.add_error("repeat_starts", _("Pick the first day of the repeated help."))
        elif starts < today:
            self.add_error("repeat_starts", _("This day has passed."))
        elif starts > today + dt.timedelta(days=MAX_DAYS_AHEAD):
            self.add_error("repeat_starts", _("Pick a day within %(days)s days.") % {"days": MAX_DAYS_AHEAD})
        if part is None:
            self.add_error("repeat_part", _("Pick morning, afternoon or evening."))
        elif starts is not None and starts >= today and part_of_day_has_passed(starts, part):
            self.add_error(
                "repeat_part", _("This part of today has passed: pick a later one or another day.")
            )
        if until is not None and starts is not None and until < starts:
            self.add_error("repeat_until", _("The last day cannot be before the first."))
        return cleaned


def repeat_details(data: dict) -> dict:
    """What a form with repeat fields passes to `help_series_create`."""
    return {
        "category": data["category"],
        "description": data["description"],
        "location": data["location"],
        "language_needed": data["language_needed"],
        "every_weeks": data["repeat"],
        "starts": data["repeat_starts"],
        "part_of_day": data["repeat_part"],
        "until": data["repeat_until"],
        "people_needed": data.get("people_needed") or 1,
    }


class RepeatingHelpRequestForm(RepeatFieldsMixin, HelpRequestForm):
    """The citizen's new request: once, or repeated."""


class PausePeriodForm(forms.Form):
    paused_until = forms.DateField(
        label=_("Pause until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("No help on the days up to and with this one. Leave empty to resume."),
    )


class VolunteerOfferForm(PlaceFormMixin):
    skills = BoundedModelMultipleChoiceField(
        label=_("I can help with"), queryset=Category.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    max_km = forms.FloatField(
        label=_("How far will you travel (km)?"), min_value=0.5, max_value=50, initial=3
    )
    availability = forms.TypedMultipleChoiceField(
        label=_("When are you usually free?"),
        choices=WEEKLY_SLOT_CHOICES,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Tick at least one part of the week when you are free.")},
    )
    capacity = forms.IntegerField(label=_("How many tasks at once?"), min_value=1, max_value=10, initial=1)
    languages = forms.MultipleChoiceField(
        label=_("Languages I speak"),
        choices=SpokenLanguage.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    field_order = ["skills", "address", "latitude", "longitude", "max_km", "availability", "capacity"]

    def __init__(self, *args, community: Community, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["skills"].queryset = community.categories.filter(is_active=True)

    def availability_grid(self) -> list[tuple[str, list]]:
        """The 21 checkboxes as 7 rows (days) of 3 (parts of the day)."""
        boxes = list(self["availability"])
        return [(str(day), boxes[index * 3 : index * 3 + 3]) for index, day in enumerate(DAYS)]

    def clean(self) -> dict:
        cleaned = super().clean()
        cleaned["location"] = self.clean_location()
        return cleaned


class DeclineForm(forms.Form):
    reason = forms.CharField(label=_("Why not? (optional)"), max_length=255, required=False)


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("A note for the volunteer who is coming"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For example: ring at the back door; the shop on the corner is fine."),
    )


def help_request_form_initial(help_request: HelpRequest) -> dict:
    """A posted request as the request form's fields, for changing it (passed days left out)."""
    initial = {
        "category": help_request.category_id,
        "description": help_request.description,
        "urgency": help_request.urgency,
        "any_time": help_request.any_time,
        "language_needed": help_request.language_needed,
        "people_needed": help_request.people_needed,
        "address": help_request.address,
        "latitude": None if help_request.address else help_request.latitude,
        "longitude": None if help_request.address else help_request.longitude,
    }
    upcoming = [window for window in help_request.time_windows.all() if not window.has_passed()]
    for row, window in enumerate(upcoming[:TIME_WINDOW_ROWS], start=1):
        initial[f"window_{row}_date"] = window.date
        initial[f"window_{row}_part"] = window.part_of_day
    return initial


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Why cancel? (optional)"), max_length=255, required=False)


def e164_or_error(raw: str) -> str:
    """A phone number as typed, in E.164 (Belgian by default), or a ValidationError."""
    try:
        parsed = phonenumbers.parse(raw.strip(), settings.PHONENUMBER_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise forms.ValidationError(_("Enter a valid phone number (e.g. 0470 12 34 56 or +32 470 12 34 56)."))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class PhoneIntakeForm(HelpRequestForm):
    """A coordinator files a request for someone who phoned in: the caller first."""

    contact_name = forms.CharField(label=_("Caller's name"), max_length=120)
    contact_phone = forms.CharField(label=_("Caller's phone"), max_length=32)
    text_caller = forms.BooleanField(
        label=_("Text the caller when someone is coming"),
        required=False,
        help_text=_("Only to a mobile number, and only if the caller agrees."),
    )
    # Shown only once the caller's phone turned out to have a request under way.
    file_anyway = forms.BooleanField(
        label=_("File it anyway: this is another need"),
        required=False,
    )

    field_order = [
        "contact_name",
        "contact_phone",
        "text_caller",
        "address",
        "category",
        "description",
        "urgency",
        "any_time",
    ]

    def __init__(self, *args, community: Community, **kwargs) -> None:
        super().__init__(*args, community=community, **kwargs)
        self.community = community
        self.possible_duplicates: list = []
        self.fields["contact_name"].widget.attrs.update({"autofocus": True, "autocomplete": "off"})
        self.fields["contact_phone"].widget.attrs.update({"type": "tel", "autocomplete": "off"})
        self.fields["description"].help_text = ""

    def clean_contact_phone(self) -> str:
        """In E.164 (Belgian when typed without a country code)."""
        try:
            return e164_or_error(self.cleaned_data["contact_phone"])
        except forms.ValidationError:
            raise forms.ValidationError(_("Give a phone number we can call back.")) from None

    def clean(self) -> dict:
        data = super().clean()
        if data.get("text_caller") and data.get("contact_phone") and not is_mobile(data["contact_phone"]):
            self.add_error("text_caller", _("Texts go only to a mobile number."))
        # A possible duplicate: the coordinator sees the request(s) under way and decides.
        self.possible_duplicates = requests_with_phone(
            self.community, data.get("contact_phone", ""), filed_with_key=data.get("idempotency_key", "")
        )
        if self.possible_duplicates and not data.get("file_anyway"):
            self.add_error(
                "file_anyway",
                _(
                    "This caller already has a request under way (listed above). Tick this box "
                    "to file a new one anyway."
                ),
            )
        return data


class RepeatingPhoneIntakeForm(RepeatFieldsMixin, PhoneIntakeForm):
    """The phone intake: a caller may ask for help every week too (the referral form, which
    shares the intake's fields, does not offer it)."""


class SearchableSelect(forms.Select):
    """A select that static/js/select-search.js gives a search box (its texts in the page's language)."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].update(
            {
                "data-searchable": "",
                "data-search-label": _("Search by name, neighbourhood or the end of the phone number"),
                "data-search-found": _("%(count)s found"),
            }
        )
        return context


class VolunteerChoiceField(BoundedModelChoiceField):
    """Volunteers by name, in name order, each told apart (never by username)."""

    def label_from_instance(self, obj: User) -> str:
        return obj.name_told_apart


def volunteers_by_name(people: QuerySet[User]) -> QuerySet[User]:
    return people.select_related("volunteer_offer").order_by("first_name", "last_name", "username")


class AssignForm(forms.Form):
    volunteer = VolunteerChoiceField(
        label=_("Volunteer"),
        queryset=None,
        widget=SearchableSelect,
    )
    reason = forms.CharField(label=_("Why this volunteer?"), max_length=200)
    agreed_by_phone = forms.BooleanField(
        label=_("They already said yes on the phone (accept at once)"), required=False
    )

    def __init__(self, *args, volunteers, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["volunteer"].queryset = volunteers_by_name(volunteers)


class UnassignForm(forms.Form):
    reason = forms.CharField(label=_("Why take the task back?"), max_length=200)


class AttachForm(forms.Form):
    person = BoundedModelChoiceField(label=_("Account of the caller"), queryset=None)

    def __init__(self, *args, people, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = people


class CoordinatorMessageForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Message"), max_length=5000, widget=forms.Textarea(attrs={"rows": 6}))
    volunteer = VolunteerChoiceField(
        label=_("To one volunteer"),
        queryset=None,
        required=False,
        help_text=_("Or leave empty to reach a group:"),
        widget=SearchableSelect,
    )
    skill = BoundedModelChoiceField(label=_("Volunteers who help with"), queryset=None, required=False)
    neighbourhood = forms.ChoiceField(label=_("Living in"), required=False)

    def __init__(self, *args, community: Community, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["volunteer"].queryset = volunteers_by_name(
            User.objects.filter(volunteer_offer__community=community)
        )
        self.fields["skill"].queryset = community.categories.filter(is_active=True)
        areas = (
            community.volunteer_offers.exclude(neighbourhood="")
            .order_by("neighbourhood")
            .values_list("neighbourhood", flat=True)
            .distinct()
        )
        self.fields["neighbourhood"].choices = [("", _("anywhere"))] + [(area, area) for area in areas]


class MoneyField(forms.CharField):
    """Euros and cents as people type them ("12,50", "12.50", "€ 12,50"); a text input with
    a decimal keypad, since a number input refuses the decimal comma in some browsers."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return None
        try:
            return parse_money(value)
        except InvalidOperation:
            raise forms.ValidationError(_("Give the amount in euros, e.g. 12,50.")) from None


class ExpenseForm(forms.Form):
    """What the volunteer paid for the task (shopping, medicines), at most the community's cap."""

    amount = MoneyField(label=_("Amount you paid (EUR)"), help_text=_("Euros and cents, e.g. 12,50."))
    receipt_note = forms.CharField(
        label=_("About the receipt (optional)"),
        max_length=200,
        required=False,
        help_text=_("For example: receipt given with the shopping."),
    )

    def __init__(self, *args, community: Community, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.community = community

    def clean_amount(self):
        from mutualaid.aid.services.expenses import check_amount

        amount = self.cleaned_data["amount"]
        if amount is None:
            return None
        try:
            return check_amount(amount, self.community)
        except ValidationError as error:
            raise forms.ValidationError(error.message_dict["amount"]) from None


class DoneForm(ExpenseForm):
    """Marking a task done; the expense is asked for only where the kind of help has them."""

    hours_spent = forms.FloatField(
        label=_("Hours spent (optional)"), required=False, min_value=0.25, max_value=24
    )

    field_order = ["hours_spent", "amount", "receipt_note"]

    def __init__(self, *args, community: Community, with_expense: bool, **kwargs) -> None:
        super().__init__(*args, community=community, **kwargs)
        if with_expense:
            self.fields["amount"].required = False
            self.fields["amount"].label = _("Amount you paid, if any (EUR)")
        else:
            del self.fields["amount"], self.fields["receipt_note"]


class FeedbackForm(forms.Form):
    message = forms.CharField(
        label=_("A message (optional)"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ExpenseDisputeForm(forms.Form):
    reason = forms.CharField(
        label=_("What is wrong with the amount?"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("The coordinators read it and settle it with you and the volunteer."),
    )


class ExpenseSettleForm(forms.Form):
    note = forms.CharField(
        label=_("How was it settled?"),
        max_length=500,
        help_text=_("Kept in the request's record."),
    )


class CommunityIdentityForm(forms.ModelForm):
    """What a community shows of itself: set by its coordinators."""

    logo_file = forms.FileField(
        label=_("Logo"),
        required=False,
        help_text=_("A PNG, JPEG or WebP image, at most 200 KB. Leave empty to keep the current one."),
    )
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Left empty (or by an older form): the cap stays what it is.
        self.fields["expense_cap"].required = False

    def clean_expense_cap(self):
        cap = self.cleaned_data.get("expense_cap")
        return self.instance.expense_cap if cap is None else cap

    class Meta:
        model = Community
        fields = [
            "service_name",
            "accent_colour",
            "contact_phone",
            "help_line_days",
            "help_line_opens",
            "help_line_closes",
            "expense_cap",
        ]
        widgets = {
            "expense_cap": forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
            "accent_colour": forms.TextInput(attrs={"type": "color"}),
            "help_line_opens": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "help_line_closes": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean_logo_file(self) -> tuple[bytes, str] | None:
        upload = self.cleaned_data.get("logo_file")
        if not upload:
            return None
        check_logo_size(upload.size)  # before reading it
        data = upload.read()
        return data, checked_logo(data)

    def clean(self) -> dict:
        data = super().clean()
        hours = [data.get("help_line_days"), data.get("help_line_opens"), data.get("help_line_closes")]
        if any(hours) and not all(hours):
            for field, value in zip(
                ("help_line_days", "help_line_opens", "help_line_closes"), hours, strict=True
            ):
                if not value:
                    self.add_error(
                        field, _("Give the days, the opening and the closing time, or none of them.")
                    )
        elif all(hours) and data["help_line_opens"] >= data["help_line_closes"]:
            self.add_error("help_line_closes", _("The help line must close after it opens."))
        return data


class VolunteerSearchForm(forms.Form):
    q = forms.CharField(label=_("Search by name or phone"), max_length=100, required=False)

    def clean_q(self) -> str:
        # A NUL byte cannot be part of a PostgreSQL query: it is no part of any name either.
        return self.cleaned_data["q"].replace("\x00", "").strip()


class VolunteerCheckForm(forms.Form):
    kind = forms.ChoiceField(label=_("What you checked"), choices=VolunteerCheck.Kind.choices)
    checked_on = forms.DateField(label=_("Checked on"), widget=forms.DateInput(attrs={"type": "date"}))
    expires_on = forms.DateField(
        label=_("Valid until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Needed for the criminal-record extract: from this day on it no longer counts."),
    )


class TeamNoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note for the team"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only the coordinators of this community see it; never the person or the volunteer."),
    )


class CallDoneForm(forms.Form):
    outcome = forms.CharField(
        label=_("What was said"),
        max_length=500,
        help_text=_("Saved as a team note: “Called: …”."),
    )


class ConcernForm(forms.Form):
    text = forms.CharField(
        label=_("What happened?"),
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "Only the coordinators of your community read this. The person is not told, and "
            "never learns who wrote it."
        ),
    )


class SuspendForm(forms.Form):
    reason = forms.CharField(
        label=_("Why suspend this volunteer?"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the record; the volunteer is not shown it."),
    )
