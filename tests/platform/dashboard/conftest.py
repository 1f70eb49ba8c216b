from tests.platform.fleet.conftest import (  # noqa: F401  (fixtures: the fleet page's tests)
    config_patch,
    eu_device_b,
    eu_repo,
    fleet_keys,
)
from tests.platform.staff import (  # noqa: F401  (fixtures)
    admin_user,
    eu_analyst,
    eu_operator,
    outsider,
    us_analyst,
)
