from django.urls import path

from apps.records.api import views

urlpatterns = [
    path("records", views.RecordListView.as_view(), name="record-list"),
    path("records/stats", views.RecordStatsView.as_view(), name="record-stats"),
    path("records/<int:pk>", views.RecordDetailView.as_view(), name="record-detail"),
    path("records/<int:pk>/log", views.RecordLogView.as_view(), name="record-log"),
]
