"""/open311/v2/: exact paths, no trailing slash and never redirected (see open311.py)."""

from django.urls import path

from mutualaid.partners import open311

urlpatterns = [
    path("discovery.<open311format:fmt>", open311.discovery, name="open311-discovery"),
    path("services.<open311format:fmt>", open311.service_list, name="open311-services"),
    path(
        "services/<str:service_code>.<open311format:fmt>", open311.service_definition, name="open311-service"
    ),
    path("requests.<open311format:fmt>", open311.service_requests, name="open311-requests"),
    path("requests/<str:request_id>.<open311format:fmt>", open311.service_request, name="open311-request"),
]
