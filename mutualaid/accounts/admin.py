from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from mutualaid.accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "first_name", "last_name", "community", "is_coordinator", "is_staff"]
    list_filter = ["is_coordinator", "is_staff", "community"]
    fieldsets = [
        *DjangoUserAdmin.fieldsets,
        (
            _("Mutual aid"),
            {"fields": ["community", "phone", "preferred_language", "email_notifications", "is_coordinator"]},
        ),
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return (
            queryset.filter(community_id=request.user.community_id)
            if request.user.is_coordinator
            else queryset.none()
        )
