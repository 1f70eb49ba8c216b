from tests.platform.staff import (  # noqa: F401  (fixtures)
    admin_user,
    eu_analyst,
    eu_operator,
)
