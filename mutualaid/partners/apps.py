from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    """Requests from elsewhere: partner organisations, their API keys, Open311 and /api/v1/."""

    name = "mutualaid.partners"
    label = "partners"
    verbose_name = _("Partners")
