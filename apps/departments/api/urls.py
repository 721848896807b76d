from django.urls import path

from apps.departments.api import views

urlpatterns = [
    path("departments", views.DepartmentListView.as_view(), name="department-list"),
    path("departments/<int:pk>", views.DepartmentDetailView.as_view(), name="department-detail"),
]
