from django.urls import path

from notifications.consumers import TaskUpdatesConsumer

websocket_urlpatterns = [
    path("ws/updates/", TaskUpdatesConsumer.as_asgi()),
]
