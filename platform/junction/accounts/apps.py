from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "junction.accounts"
    label = "accounts"
    verbose_name = "Accounts"
