"""The merchant REST API (``/api/v1``): routers, dependencies, problem responses."""
