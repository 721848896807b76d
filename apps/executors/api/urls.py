from django.urls import path

from apps.executors.api import views

urlpatterns = [
    path("executors", views.ExecutorListView.as_view(), name="executor-list"),
    path("executors/names", views.ExecutorNamesView.as_view(), name="executor-names"),
    path("executors/register", views.ExecutorRegisterView.as_view(), name="executor-register"),
    path("executors/deregister", views.ExecutorDeregisterView.as_view(), name="executor-deregister"),
    path("executors/<int:pk>", views.ExecutorDetailView.as_view(), name="executor-detail"),
]
