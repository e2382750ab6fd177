"""The admin for coordinators: everything of their own community, nothing of others."""

from django.contrib import admin

from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    Assignment,
    AuditEntry,
    Category,
    Community,
    CoordinatorMessage,
    HelpRequest,
    StatusChange,
    TimeWindow,
    VolunteerOffer,
)


class CommunityScopedAdmin(admin.ModelAdmin):
    """Coordinators see and edit only rows of their community; superusers see all."""

    community_path = "community"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        if not request.user.is_coordinator or request.user.community_id is None:
            return queryset.none()
        return queryset.filter(**{self.community_path: request.user.community_id})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Choices too: a coordinator must not see (or pick) people and categories of others.
        if not request.user.is_superuser:
            community_id = request.user.community_id
            if db_field.related_model is Community:
                kwargs["queryset"] = Community.objects.filter(pk=community_id)
            elif db_field.related_model is Category:
                kwargs["queryset"] = Category.objects.filter(community_id=community_id)
            elif db_field.related_model is User:
                kwargs["queryset"] = User.objects.filter(community_id=community_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.related_model is Category and not request.user.is_superuser:
            kwargs["queryset"] = Category.objects.filter(community_id=request.user.community_id)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Community)
class CommunityAdmin(CommunityScopedAdmin):
    community_path = "pk"
    list_display = ["name", "slug", "contact_phone"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Category)
class CategoryAdmin(CommunityScopedAdmin):
    list_display = ["name", "name_nl", "name_fr", "slug", "community", "is_active"]
    list_filter = ["is_active"]
    list_editable = ["is_active"]


class TimeWindowInline(admin.TabularInline):
    model = TimeWindow
    extra = 0


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["at", "subject", "assignment", "actor", "from_status", "to_status", "reason"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(HelpRequest)
class HelpRequestAdmin(CommunityScopedAdmin):
    list_display = ["pk", "category", "status", "urgency", "neighbourhood", "requester", "created_at"]
    list_filter = ["status", "urgency", ("category", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["description", "address", "requester__username", "requester__last_name"]
    # Status changes only through the services, so every change is recorded.
    readonly_fields = ["status", "unassigned_reason", "created_at", "updated_at"]
    inlines = [TimeWindowInline, StatusChangeInline]


@admin.register(VolunteerOffer)
class VolunteerOfferAdmin(CommunityScopedAdmin):
    list_display = ["volunteer", "community", "max_km", "capacity", "is_paused", "neighbourhood"]
    list_filter = ["is_paused", ("skills", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["volunteer__username", "volunteer__last_name", "address"]
    filter_horizontal = ["skills"]


@admin.register(Assignment)
class AssignmentAdmin(CommunityScopedAdmin):
    community_path = "help_request__community"
    list_display = ["pk", "help_request", "volunteer", "status", "km", "proposed_at", "expires_at"]
    list_filter = ["status"]
    readonly_fields = ["help_request", "volunteer", "status", "km", "proposed_at", "responded_at"]

    def has_add_permission(self, request):
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(CommunityScopedAdmin):
    community_path = "help_request__community"
    list_display = ["at", "help_request", "subject", "from_status", "to_status", "actor", "reason"]
    list_filter = ["subject", "to_status"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdminMixin:
    """Records are appended by services only: nobody adds, edits or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, CommunityScopedAdmin):
    list_display = ["at", "action", "subject", "actor", "community"]
    list_filter = ["action"]
    search_fields = ["subject"]


@admin.register(CoordinatorMessage)
class CoordinatorMessageAdmin(ReadOnlyAdminMixin, CommunityScopedAdmin):
    list_display = ["sent_at", "subject", "sender", "recipients", "skill", "neighbourhood"]
