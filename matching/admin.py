from django.contrib import admin

from matching.models import MatchingRun


@admin.register(MatchingRun)
class MatchingRunAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "community",
        "trigger",
        "open_requests",
        "available_volunteers",
        "proposed",
        "total_km",
        "seconds",
    ]
    list_filter = ["trigger", "community"]
    readonly_fields = [field.name for field in MatchingRun._meta.fields]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return (
            queryset.filter(community_id=request.user.community_id)
            if request.user.is_coordinator
            else queryset.none()
        )

    def has_add_permission(self, request):
        return False
