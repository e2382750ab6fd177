from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AidConfig(AppConfig):
    """The domain: communities, help requests, volunteer offers and assignments."""

    name = "mutualaid.aid"
    label = "aid"
    verbose_name = _("Mutual aid")
