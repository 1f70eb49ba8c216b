from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "junction.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Registers the token's security scheme with drf-spectacular (by being imported).
        from junction.accounts import openapi  # noqa: F401
