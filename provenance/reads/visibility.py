"""The one visibility rule: a caller sees the rows of the namespaces it may read, nothing else.

``namespaces`` is ``Access.visible()``: a set of namespace names, or None for every namespace
(staff, tokens made for all). Every read that returns namespaced rows goes through this module.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, Q, QuerySet

M = TypeVar("M", bound=Model)


def in_namespaces(namespaces: set[str] | None, field: str = "namespace") -> Q:
    """A condition keeping rows of the visible namespaces (none when all are visible)."""
    if namespaces is None:
        return Q()
    return Q(**{f"{field}__in": sorted(namespaces)})


def visible(qs: QuerySet[M], namespaces: set[str] | None, field: str = "namespace") -> QuerySet[M]:
    """``qs`` limited to the visible namespaces."""
    if namespaces is None:
        return qs
    return qs.filter(in_namespaces(namespaces, field))
