"""Shared fixtures. pytest-django reads DJANGO_SETTINGS_MODULE from pyproject.toml."""

from __future__ import annotations
