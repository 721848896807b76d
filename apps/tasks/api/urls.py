from django.urls import path

from apps.tasks.api import views

urlpatterns = [
    path("tasks", views.TaskListView.as_view(), name="task-list"),
    path("tasks/cron-preview", views.CronPreviewView.as_view(), name="task-cron-preview"),
    path("tasks/http", views.HttpTaskCreateView.as_view(), name="task-create-http"),
    path("tasks/grpc", views.GrpcTaskCreateView.as_view(), name="task-create-grpc"),
    path("tasks/http/<int:pk>", views.HttpTaskUpdateView.as_view(), name="task-update-http"),
    path("tasks/grpc/<int:pk>", views.GrpcTaskUpdateView.as_view(), name="task-update-grpc"),
    path("tasks/<int:pk>", views.TaskDetailView.as_view(), name="task-detail"),
    path("tasks/<int:pk>/status", views.TaskStatusView.as_view(), name="task-status"),
    path("tasks/<int:pk>/trigger", views.TaskTriggerView.as_view(), name="task-trigger"),
    path("tasks/<int:pk>/kill", views.TaskKillView.as_view(), name="task-kill"),
]
