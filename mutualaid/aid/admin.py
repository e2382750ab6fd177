"""The admin for coordinators: everything of their own community, nothing of others.

Every change made here is a coordinator's (or a superuser's) action like those on the
coordinator pages, so it is appended to the audit log with who, what, when and the values
before and after. Personal fields (names, contact details, addresses, descriptions) are
recorded as changed without their values: the audit log is append-only and must not keep
what the retention purge and account deletion forget.
"""

import json

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder

from mutualaid.accounts.models import User
from mutualaid.aid.models import (
    Assignment,
    AuditEntry,
    Category,
    Community,
    CoordinatorMessage,
    HelpRequest,
    HelpSeries,
    StatusChange,
    TimeWindow,
    VolunteerCheck,
    VolunteerOffer,
)
from mutualaid.aid.services import audit

# Fields whose values are personal data: the audit log says they changed, not to what.
PERSONAL_FIELDS = frozenset(
    {
        "address",
        "latitude",
        "longitude",
        "description",
        "contact_name",
        "contact_phone",
        "first_name",
        "last_name",
        "email",
        "phone",
        "username",
        "password",
        "decline_reason",
        "subject",
        "body",
    }
)
PERSONAL_VALUE = "(personal data: changed)"


def _plain(value):
    """A value as JSON can hold it (a related row as its primary key, dates as text)."""
    if hasattr(value, "pk"):
        return value.pk
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def field_values(obj, names) -> dict:
    """The named fields of a saved row as JSON values; personal ones masked."""
    values = {}
    for name in names:
        try:
            field = obj._meta.get_field(name)
        except FieldDoesNotExist:  # a form-only field (e.g. the user form's password fields)
            values[name] = PERSONAL_VALUE if "password" in name else "changed"
            continue
        if name in PERSONAL_FIELDS:
            values[name] = PERSONAL_VALUE
        elif field.many_to_many:
            values[name] = sorted(getattr(obj, name).values_list("pk", flat=True)) if obj.pk else []
        else:
            values[name] = _plain(field.value_from_object(obj))
    return values


class AuditedAdminMixin:
    """Appends every add, change and delete made in the admin to the audit log."""

    def audit_community_id(self, obj) -> int | None:
        return getattr(obj, "community_id", None)

    def _audit(self, request, obj, action: str, before: dict, after: dict) -> None:
        audit(
            actor=request.user,
            community_id=self.audit_community_id(obj),
            action=action,
            subject=obj,
            before=before,
            after=after,
        )

    def save_model(self, request, obj, form, change):
        changed = list(form.changed_data)
        if change and obj.pk is not None:
            stored = type(obj)._default_manager.filter(pk=obj.pk).first()
            form._audit_before = field_values(stored, changed) if stored is not None else {}
        else:
            form._audit_before = {}
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        after = field_values(obj, form.changed_data)
        for formset in formsets:
            touched = {
                "added": len(getattr(formset, "new_objects", [])),
                "changed": len(getattr(formset, "changed_objects", [])),
                "deleted": len(getattr(formset, "deleted_objects", [])),
            }
            if any(touched.values()):
                after[f"inline:{formset.model._meta.model_name}"] = touched
        if change and not after:
            return  # saved without a change: nothing happened
        self._audit(
            request, obj, "admin_change" if change else "admin_add", getattr(form, "_audit_before", {}), after
        )

    def delete_model(self, request, obj):
        snapshot = {"object": str(obj)}
        community_id = self.audit_community_id(obj)
        pk = obj.pk
        super().delete_model(request, obj)
        obj.pk = pk
        self._audit_deleted(request, obj, community_id, snapshot)

    def delete_queryset(self, request, queryset):
        rows = [(obj, self.audit_community_id(obj), {"object": str(obj)}) for obj in queryset]
        super().delete_queryset(request, queryset)
        for obj, community_id, snapshot in rows:
            self._audit_deleted(request, obj, community_id, snapshot)

    def _audit_deleted(self, request, obj, community_id, snapshot) -> None:
        if not Community.objects.filter(pk=community_id).exists():
            community_id = None  # the community itself was deleted
        audit(
            actor=request.user,
            community_id=community_id,
            action="admin_delete",
            subject=obj,
            before=snapshot,
        )


class CommunityScopedAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Coordinators see and edit only rows of their community; superusers see all."""

    community_path = "community"

    def audit_community_id(self, obj) -> int | None:
        if self.community_path == "pk":
            return obj.pk
        if self.community_path == "help_request__community":
            return obj.help_request.community_id
        return getattr(obj, "community_id", None)

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
    list_display = [
        "name",
        "name_nl",
        "name_fr",
        "slug",
        "community",
        "is_active",
        "requires_vetting",
        "carries_expenses",
    ]
    list_filter = ["is_active", "requires_vetting", "carries_expenses"]
    list_editable = ["is_active", "requires_vetting", "carries_expenses"]


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
    # Status changes only through the services, so every change is recorded. Whose request
    # it is too: giving it to an account is the audited "attach" on the coordinator pages,
    # which checks that the account is the caller's; here it would hand a stranger the
    # address and description.
    readonly_fields = ["status", "unassigned_reason", "requester", "created_by", "created_at", "updated_at"]
    inlines = [TimeWindowInline, StatusChangeInline]

    def has_delete_permission(self, request, obj=None):
        return False  # requests are cancelled and their details purged, never deleted


@admin.register(VolunteerOffer)
class VolunteerOfferAdmin(CommunityScopedAdmin):
    list_display = ["volunteer", "community", "max_km", "capacity", "is_paused", "neighbourhood"]
    list_filter = ["is_paused", ("skills", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["volunteer__username", "volunteer__last_name", "address"]
    filter_horizontal = ["skills"]

    def get_readonly_fields(self, request, obj=None):
        # An offer stays with its volunteer: moving it would give another person their tasks.
        return ["volunteer"] if obj is not None else []


@admin.register(Assignment)
class AssignmentAdmin(CommunityScopedAdmin):
    community_path = "help_request__community"
    list_display = ["pk", "help_request", "volunteer", "status", "km", "proposed_at", "expires_at"]
    list_filter = ["status"]
    readonly_fields = ["help_request", "volunteer", "status", "km", "proposed_at", "responded_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the history of a request refers to its assignments


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
    """The audit log, for the coordinators of its community (no extra permission needed)."""

    list_display = ["at", "action", "subject", "actor", "community", "before", "after"]
    list_filter = ["action"]
    search_fields = ["subject"]

    @staticmethod
    def _coordinator(request) -> bool:
        user = request.user
        return user.is_active and user.is_staff and user.is_coordinator and user.community_id is not None

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or self._coordinator(request)

    def has_module_permission(self, request):
        return super().has_module_permission(request) or self._coordinator(request)


@admin.register(CoordinatorMessage)
class CoordinatorMessageAdmin(ReadOnlyAdminMixin, CommunityScopedAdmin):
    list_display = ["sent_at", "subject", "sender", "recipients", "skill", "neighbourhood"]


@admin.register(VolunteerCheck)
class VolunteerCheckAdmin(ReadOnlyAdminMixin, CommunityScopedAdmin):
    """Checks are recorded on the coordinators' volunteer pages (audited); read-only here."""

    list_display = ["volunteer", "kind", "checked_on", "expires_on", "checked_by", "community"]
    list_filter = ["kind"]


@admin.register(HelpSeries)
class HelpSeriesAdmin(ReadOnlyAdminMixin, CommunityScopedAdmin):
    """Weekly help is filed, paused and ended on the pages, through the services (audited,
    its coming occurrences kept in step); here it can be looked up."""

    list_display = [
        "pk",
        "category",
        "rule",
        "part_of_day",
        "people_needed",
        "starts",
        "until",
        "paused_until",
        "active",
        "requester",
    ]
    list_filter = ["active", ("category", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["description", "contact_name", "requester__username", "requester__last_name"]
