from django.urls import path

from notifications import sms_views

urlpatterns = [
    path("sms/inbound/", sms_views.sms_inbound, name="sms-inbound"),
    path("sms/status/", sms_views.sms_status, name="sms-status"),
]
