from django.urls import path

from mutualaid.partners import views

urlpatterns = [
    path("coordinator/api-keys/", views.api_keys, name="coordinator-api-keys"),
    path(
        "coordinator/api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="coordinator-api-key-revoke"
    ),
]
