from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "junction.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Registers the token's security scheme with drf-spectacular (by being imported).
        from junction.accounts import openapi  # noqa: F401

        # Residency applies the region scoping rule but cannot import accounts (a layer above
        # it), so accounts hands the rule down.
        from junction.accounts.scoping import MembershipRule
        from junction.residency.scoping import scope_rule_register

        scope_rule_register(MembershipRule())
