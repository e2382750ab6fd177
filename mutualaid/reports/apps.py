from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """Figures about a community: the coordinators' numbers, exports, the public page."""

    name = "mutualaid.reports"
    label = "reports"
    verbose_name = _("Reports")
