"""Why a request is still waiting, in words a coordinator can pass on."""

from django.utils.translation import gettext_lazy as _

# The engine's reason codes (see the matching contract), plus three the service adds.
TIME_PASSED = "time_passed"
NO_LANGUAGE = "no_language"  # "no_skill" where the missing skill is the language asked for
NOT_VETTED = "not_vetted"  # "no_skill" where what is missing is a vetted volunteer

REASON_LABELS = {
    "no_skill": _("No volunteer offers this kind of help"),
    NO_LANGUAGE: _("No volunteer who offers this help speaks the language asked for"),
    NOT_VETTED: _("No volunteer who offers this help is vetted for it (ID and criminal-record extract)"),
    "out_of_range": _("No volunteer with this skill lives close enough"),
    "no_common_slot": _("No volunteer nearby is free at the requested times"),
    "excluded": _("Every suitable volunteer has already declined it"),
    "capacity": _("All suitable volunteers are busy with other tasks"),
    TIME_PASSED: _("All the requested times have passed"),
}


def reason_label(code: str) -> str:
    return str(REASON_LABELS.get(code, code))
