from django.urls import path

from apps.tasks.api import nodes, views

urlpatterns = [
    path("tasks", views.TaskListView.as_view(), name="task-list"),
    path("nodes", nodes.NodeListView.as_view(), name="node-list"),
    path("nodes/stats", nodes.NodeStatsView.as_view(), name="node-stats"),
    path("tasks/cron-preview", views.CronPreviewView.as_view(), name="task-cron-preview"),
    path("tasks/apply", views.TaskApplyView.as_view(), name="task-apply"),
    path("tasks/export", views.TaskExportView.as_view(), name="task-export"),
    path("tasks/import", views.TaskImportView.as_view(), name="task-import"),
    path("tasks/http", views.HttpTaskCreateView.as_view(), name="task-create-http"),
    path("tasks/grpc", views.GrpcTaskCreateView.as_view(), name="task-create-grpc"),
    path("tasks/shell", views.ShellTaskCreateView.as_view(), name="task-create-shell"),
    path("tasks/http/<int:pk>", views.HttpTaskUpdateView.as_view(), name="task-update-http"),
    path("tasks/grpc/<int:pk>", views.GrpcTaskUpdateView.as_view(), name="task-update-grpc"),
    path("tasks/shell/<int:pk>", views.ShellTaskUpdateView.as_view(), name="task-update-shell"),
    path("tasks/<int:pk>", views.TaskDetailView.as_view(), name="task-detail"),
    path("tasks/<int:pk>/status", views.TaskStatusView.as_view(), name="task-status"),
    path("tasks/<int:pk>/trigger", views.TaskTriggerView.as_view(), name="task-trigger"),
    path("tasks/<int:pk>/kill", views.TaskKillView.as_view(), name="task-kill"),
    path("records/<int:pk>/kill", views.ExecutionKillView.as_view(), name="record-kill"),
    path("triggers/<int:pk>", views.TriggerDetailView.as_view(), name="trigger-detail"),
    path("scheduler/state", views.SchedulerStateView.as_view(), name="scheduler-state"),
    path("scheduler/pause", views.SchedulerPauseView.as_view(), name="scheduler-pause"),
    path("scheduler/resume", views.SchedulerResumeView.as_view(), name="scheduler-resume"),
]
