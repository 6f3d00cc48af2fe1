"""Single sign-on's pages (mounted at "/" by chainsweb/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import views

app_name = "sso"

urlpatterns: list[URLPattern] = [
    path("oidc/authenticate/", views.SignInStart.as_view(), name="login"),
    path("oidc/callback/", views.SignInCallback.as_view(), name="callback"),
    path(
        "namespaces/<str:namespace>/sso-groups/",
        views.group_mapping_set,
        name="group-mapping-set",
    ),
    path(
        "namespaces/<str:namespace>/sso-groups/remove",
        views.group_mapping_remove,
        name="group-mapping-remove",
    ),
]
