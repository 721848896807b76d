from django.urls import path

from apps.accounts.api import views

urlpatterns = [
    path("auth/login", views.LoginView.as_view(), name="auth-login"),
    path("auth/refresh", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/userinfo", views.UserInfoView.as_view(), name="auth-userinfo"),
    path("users", views.UserListView.as_view(), name="user-list"),
    path("users/<int:pk>", views.UserDetailView.as_view(), name="user-detail"),
    path("users/<int:pk>/password", views.UserPasswordView.as_view(), name="user-password"),
    path("users/<int:pk>/tokens", views.UserTokenListView.as_view(), name="user-token-list"),
    path("users/<int:pk>/tokens/<int:token_id>", views.UserTokenDetailView.as_view(), name="user-token-detail"),
    path("roles", views.RoleListView.as_view(), name="role-list"),
    path("roles/<int:pk>", views.RoleDetailView.as_view(), name="role-detail"),
    path("permissions", views.PermissionListView.as_view(), name="permission-list"),
    path("audit-logs", views.AuditLogListView.as_view(), name="audit-log-list"),
]
