from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "provenance"

urlpatterns: list[URLPattern | URLResolver] = []
