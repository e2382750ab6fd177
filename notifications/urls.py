from django.urls import path

from notifications import views

urlpatterns = [
    path("sms/inbound/", views.sms_inbound, name="sms-inbound"),
    path("sms/status/", views.sms_status, name="sms-status"),
]
