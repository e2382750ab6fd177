"""Partner organisations, their keys, referrers, invitations and referrals in the admin:
read-only, scoped to the coordinator's community.

Every change to them goes through the coordinators' pages (partners, API keys), whose
services do what a plain edit would skip: a system user for a new organisation, revoking
its keys and closing its referrers' accounts when it is deactivated, an invitation's
e-mail, and the audit log. Key and invitation hashes are never shown.
"""

from django.contrib import admin

from mutualaid.aid.admin import CommunityScopedAdmin, ReadOnlyAdminMixin
from mutualaid.partners.models import ApiKey, PartnerOrganisation, Referral, Referrer, ReferrerInvitation


@admin.register(PartnerOrganisation)
class PartnerOrganisationAdmin(ReadOnlyAdminMixin, CommunityScopedAdmin):
    list_display = ["name", "community", "created_at", "deactivated_at"]
    list_filter = [("deactivated_at", admin.EmptyFieldListFilter)]
    search_fields = ["name"]
    fields = ["name", "community", "system_user", "created_at", "deactivated_at"]


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdminMixin, CommunityScopedAdmin):
    community_path = "organisation__community"
    list_display = ["prefix", "organisation", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    fields = ["prefix", "organisation", "created_by", "created_at", "last_used_at", "revoked_at"]

    def audit_community_id(self, obj) -> int | None:
        return obj.organisation.community_id


@admin.register(Referrer)
class ReferrerAdmin(ReadOnlyAdminMixin, CommunityScopedAdmin):
    community_path = "organisation__community"
    list_display = ["user", "organisation", "invited_by", "created_at", "deactivated_at"]
    list_filter = [("deactivated_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__first_name", "user__last_name", "user__email", "organisation__name"]
    fields = ["user", "organisation", "invited_by", "created_at", "deactivated_at"]

    def audit_community_id(self, obj) -> int | None:
        return obj.organisation.community_id


@admin.register(ReferrerInvitation)
class ReferrerInvitationAdmin(ReadOnlyAdminMixin, CommunityScopedAdmin):
    community_path = "organisation__community"
    list_display = [
        "email",
        "organisation",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "withdrawn_at",
    ]
    fields = [
        "email",
        "organisation",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "withdrawn_at",
    ]

    def audit_community_id(self, obj) -> int | None:
        return obj.organisation.community_id


@admin.register(Referral)
class ReferralAdmin(ReadOnlyAdminMixin, CommunityScopedAdmin):
    community_path = "organisation__community"
    list_display = ["help_request", "organisation", "referrer", "consent_recorded_at"]
    list_filter = [("organisation", admin.RelatedOnlyFieldListFilter)]
    fields = ["help_request", "organisation", "referrer", "consent_recorded_by", "consent_recorded_at"]

    def audit_community_id(self, obj) -> int | None:
        return obj.organisation.community_id
