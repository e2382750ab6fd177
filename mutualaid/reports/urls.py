from django.urls import path

from mutualaid.reports import views

urlpatterns = [
    path("communities/<slug:slug>/transparency/", views.transparency, name="transparency"),
    path("communities/<slug:slug>/transparency.csv", views.transparency_csv, name="transparency-csv"),
    path("communities/<slug:slug>/transparency.json", views.transparency_json, name="transparency-json"),
    path("communities/<slug:slug>/hsds.json", views.transparency_hsds, name="transparency-hsds"),
    path("coordinator/export.csv", views.coordinator_export, name="coordinator-export"),
]
