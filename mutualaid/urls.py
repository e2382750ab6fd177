from django.contrib import admin
from django.urls import include, path

from mutualaid.accounts import two_factor_views
from mutualaid.accounts.views import (
    RateLimitedLoginView,
    RateLimitedPasswordResetView,
    account,
    account_data,
    signup,
)
from mutualaid.operations import views as operations_views
from mutualaid.partners.api import api
from notifications import views as notification_views

handler500 = "mutualaid.operations.unavailable.server_error"

urlpatterns = [
    # Answered by mutualaid.operations.middleware.ProbesMiddleware before any other middleware.
    path("healthz", operations_views.healthz, name="healthz"),
    path("readyz", operations_views.readyz, name="readyz"),
    path("metrics", operations_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/signup/", signup, name="signup"),
    path("accounts/login/", RateLimitedLoginView.as_view(), name="login"),
    path("accounts/password_reset/", RateLimitedPasswordResetView.as_view(), name="password_reset"),
    path("accounts/two-factor/enrol/", two_factor_views.enrol, name="two-factor-enrol"),
    path("accounts/two-factor/verify/", two_factor_views.verify, name="two-factor-verify"),
    path(
        "accounts/two-factor/recovery-codes/",
        two_factor_views.recovery_codes,
        name="two-factor-recovery-codes",
    ),
    path("coordinator/two-factor/", two_factor_views.team, name="coordinator-two-factor"),
    path(
        "coordinator/two-factor/<int:user_id>/reset/",
        two_factor_views.reset,
        name="coordinator-two-factor-reset",
    ),
    path("accounts/me/", account, name="account"),
    path("accounts/me/data.json", account_data, name="account-data"),
    path("accounts/me/push/subscribe/", notification_views.subscribe, name="push-subscribe"),
    path("accounts/me/push/unsubscribe/", notification_views.unsubscribe, name="push-unsubscribe"),
    # At the root: a service worker controls only pages under its own path.
    path("sw.js", notification_views.service_worker, name="service-worker"),
    path("manifest.webmanifest", notification_views.web_manifest, name="web-manifest"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("open311/v2/", include("mutualaid.partners.open311_urls")),
    path("api/v1/", api.urls),
    path("", include("notifications.urls")),
    path("", include("mutualaid.partners.urls")),
    path("", include("mutualaid.reports.urls")),
    path("", include("mutualaid.aid.urls")),
]
