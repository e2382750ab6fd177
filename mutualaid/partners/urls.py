from django.urls import path

from mutualaid.partners import referral_views, views

urlpatterns = [
    path("coordinator/api-keys/", views.api_keys, name="coordinator-api-keys"),
    path(
        "coordinator/api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="coordinator-api-key-revoke"
    ),
]

urlpatterns += [
    path("coordinator/partners/", referral_views.organisations, name="coordinator-partners"),
    path(
        "coordinator/partners/<int:organisation_id>/",
        referral_views.organisation_detail,
        name="coordinator-partner",
    ),
    path(
        "coordinator/partners/<int:organisation_id>/deactivate/",
        referral_views.organisation_deactivate,
        name="coordinator-partner-deactivate",
    ),
    path(
        "coordinator/partners/<int:organisation_id>/reactivate/",
        referral_views.organisation_reactivate,
        name="coordinator-partner-reactivate",
    ),
    path(
        "coordinator/referrers/<int:referrer_id>/deactivate/",
        referral_views.referrer_deactivate,
        name="coordinator-referrer-deactivate",
    ),
    path(
        "coordinator/referrers/<int:referrer_id>/reactivate/",
        referral_views.referrer_reactivate,
        name="coordinator-referrer-reactivate",
    ),
    path("referrals/", referral_views.referral_list, name="referrals"),
    path("referrals/new/", referral_views.referral_create, name="referral-create"),
    path("referrals/<int:request_id>/cancel/", referral_views.referral_cancel, name="referral-cancel"),
    path("referrals/join/<str:token>/", referral_views.invitation, name="referrer-invitation"),
]
