from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.accounts import authz
        from apps.accounts.bootstrap import seed_admin
        from apps.accounts.models import TokenState
        from apps.accounts.services import api_token_authenticate
        from djs_platform.bootstrap import register_step
        from djs_platform import token_state
        from djs_platform.tokens import register_api_token_authenticator, register_user_loader

        # ``Bearer djs_pat_...`` in REST and gRPC is checked here (issue 19); the platform names no app model.
        register_api_token_authenticator(api_token_authenticate)
        # Per-request users come from a cache keyed by (user id, authz generation); every change that can alter
        # an answer gives the generation a new value in the same transaction.
        authz.connect_signals()
        register_user_loader(authz.load_user)
        # `manage.py bootstrap`: reference data and the admin first (later steps act as that admin).
        register_step("accounts.admin", seed_admin, order=10)
        # The token state's database store (docs/operations.md) keeps its rows in this app's table.
        token_state.register_model(TokenState)
