from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from mutualaid.accounts.models import User
from mutualaid.aid.admin import PERSONAL_VALUE, AuditedAdminMixin
from notifications.events import close_live_sockets


class PhoneToCheckFilter(admin.SimpleListFilter):
    title = _("phone number to check")
    parameter_name = "phone_to_check"

    def lookups(self, request, model_admin):
        return [("yes", _("yes"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(phone_to_check="")
        return queryset


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    """People, scoped like the rest; every change (a role, a permission) is audited."""

    list_display = [
        "username",
        "first_name",
        "last_name",
        "community",
        "is_coordinator",
        "is_staff",
        "phone_to_check",
    ]
    # "Phone number to check": numbers from before numbers were checked that could not be
    # read; a coordinator corrects them here.
    list_filter = ["is_coordinator", "is_staff", "community", PhoneToCheckFilter]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (
            _("Mutual aid"),
            {
                "fields": [
                    "community",
                    "phone",
                    "phone_to_check",
                    "preferred_language",
                    "email_notifications",
                    "sms_notifications",
                    "is_coordinator",
                ]
            },
        ),
    ]

    # Roles and powers are the superuser's to give: a coordinator who is ever granted
    # "change user" (to fix a phone number) still cannot make anyone, themselves included,
    # a superuser, staff, a coordinator, or a member of another community.
    POWERS = ("is_superuser", "is_staff", "is_coordinator", "groups", "user_permissions", "community")

    # What a person's open pages may hear follows these: a change closes their sockets, and
    # the pages reconnect with the rights they have now.
    RIGHTS = ("is_active", "is_superuser", "is_coordinator", "community")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and set(form.changed_data) & set(self.RIGHTS):
            close_live_sockets(user_id=obj.pk)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [field for field in self.POWERS if field not in readonly]
        return readonly

    def user_change_password(self, request, id, form_url=""):
        # Setting someone else's password is taking over their account: superusers only,
        # and recorded (without the password).
        if not request.user.is_superuser:
            raise PermissionDenied
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            person = User.objects.get(pk=id)
            self._audit(request, person, "admin_set_password", {}, {"password": PERSONAL_VALUE})
        return response

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return (
            queryset.filter(community_id=request.user.community_id)
            if request.user.is_coordinator
            else queryset.none()
        )
