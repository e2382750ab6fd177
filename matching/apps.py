from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MatchingConfig(AppConfig):
    """The Django side of matching; the solver itself is the pure `matching.engine`."""

    name = "matching"
    verbose_name = _("Matching")
