from django.urls import path

from apps.alerts.api import views

urlpatterns = [
    path("alert-policies", views.AlertPolicyListView.as_view(), name="alert-policy-list"),
    path("alert-policies/<int:pk>", views.AlertPolicyDetailView.as_view(), name="alert-policy-detail"),
    path("alert-policies/<int:pk>/test", views.AlertPolicyTestView.as_view(), name="alert-policy-test"),
    path("alerts", views.AlertListView.as_view(), name="alert-list"),
    path("alerts/<int:pk>", views.AlertDetailView.as_view(), name="alert-detail"),
]
