from tests.platform.staff import admin_user, eu_operator  # noqa: F401  (fixtures)
