"""Backends that break bench's plugin interface on purpose (see pyproject.toml)."""
