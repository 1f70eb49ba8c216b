"""The read-only REST API for city staff and integrators (/api/v1/), scoped by region role."""
