from tests.platform.staff import eu_analyst, us_analyst  # noqa: F401  (fixtures)
