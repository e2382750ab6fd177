from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "mutualaid.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from mutualaid.accounts import sessions  # noqa: F401  (connects its sign-in receiver)
