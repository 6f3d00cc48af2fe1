"""Sign-in and sign-out pages of single sign-on, and the group mappings on a namespace's
settings page."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from provenance.services.sso import (
    GroupMappingError,
    SignInRefused,
    sso_group_mapping_remove,
    sso_group_mapping_set,
)
from provenance.views import _admin_namespace, _settings_context

from .forms import GroupMappingForm, settings_section
from .oidc import HTTP_ERROR, PROVIDER_ERRORS, ProviderUnavailable, discovery

logger = logging.getLogger(__name__)

# What mozilla-django-oidc's own refusals mean, for the person signing in.
_REFUSALS = {
    "state not found": "the answer belongs to no sign-in started in this browser (state)",
    "Nonce verification failed": "the ID token belongs to another sign-in (nonce)",
    "Could not find a valid JWKS": "the ID token is signed with a key the provider does not list",
}
SESSION_METHOD = "chainsweb_sign_in"


def sign_in_options(request: HttpRequest) -> dict[str, Any]:
    """Template context: which ways to sign in the login page offers."""
    return {
        "sso_oidc": bool(settings.OIDC_ISSUER),
        "sso_provider_name": settings.OIDC_PROVIDER_NAME,
        "local_login": settings.LOCAL_LOGIN,
    }


def _refused(request: HttpRequest, reason: str, status: int) -> HttpResponse:
    logger.warning("single sign-on refused: %s", reason)
    form = AuthenticationForm(request)
    return render(
        request, "provenance/login.html", {"form": form, "sso_error": reason}, status=status
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SignInRefused | ProviderUnavailable):
        return str(exc)
    if isinstance(exc, HTTP_ERROR) and exc.response is not None:
        return f"the identity provider refused the code ({exc.response.status_code})"
    if isinstance(exc, PROVIDER_ERRORS):
        return f"the identity provider cannot be reached ({type(exc).__name__})"
    text = str(exc)
    return next((v for k, v in _REFUSALS.items() if k in text), "the answer was not acceptable")


class SignInStart(OIDCAuthenticationRequestView):  # type: ignore[misc]
    """Redirect to the provider's authorization endpoint with state, nonce and PKCE."""

    def __init__(self, **kwargs: Any) -> None:
        View.__init__(self, **kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID

    def get(self, request: HttpRequest) -> HttpResponseBase:
        if not settings.OIDC_ISSUER:
            return _refused(request, "single sign-on is not set up", 404)
        try:
            self.OIDC_OP_AUTH_ENDPOINT = discovery()["authorization_endpoint"]
        except ProviderUnavailable as exc:
            return _refused(request, str(exc), 503)
        response: HttpResponseBase = super().get(request)
        return response


class SignInCallback(OIDCAuthenticationCallbackView):  # type: ignore[misc]
    """The provider's answer: code and state in, a session (or a clear refusal) out."""

    def get(self, request: HttpRequest) -> HttpResponseBase:
        if not settings.OIDC_ISSUER:
            return _refused(request, "single sign-on is not set up", 404)
        try:
            response: HttpResponseBase = super().get(request)
        except (SignInRefused, ProviderUnavailable, SuspiciousOperation) as exc:
            return _refused(request, _reason(exc), 400)
        except PROVIDER_ERRORS as exc:
            return _refused(request, _reason(exc), 502)
        return response

    def login_failure(self) -> HttpResponse:
        error = self.request.GET.get("error", "")
        reason = f"the identity provider answered {error!r}" if error else "it did not complete"
        return _refused(self.request, reason, 400)

    def login_success(self) -> HttpResponseBase:
        response: HttpResponseBase = super().login_success()
        self.request.session[SESSION_METHOD] = "oidc"
        # The groups are read again at the next sign-in: keep that within a working day.
        self.request.session.set_expiry(settings.SSO_SESSION_SECONDS)
        return response


class SignOut(View):
    """End the session here, then at the identity provider (RP-Initiated Logout) when the
    person signed in with it, or at the proxy when it has a sign-out address."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponseBase:
        method = request.session.get(SESSION_METHOD)
        proxied = getattr(request, "sso_proxy", False)
        name = request.user.get_username() if request.user.is_authenticated else ""
        auth.logout(request)
        if name:
            logger.info("signed out %s", name)
        login = request.build_absolute_uri(reverse("provenance:login"))
        if method == "oidc":
            try:
                end_session = discovery().get("end_session_endpoint")
            except ProviderUnavailable:
                end_session = None
            if isinstance(end_session, str):
                query = urlencode(
                    {"client_id": settings.OIDC_CLIENT_ID, "post_logout_redirect_uri": login}
                )
                return HttpResponseRedirect(f"{end_session}?{query}")
        if proxied and settings.AUTH_PROXY_SIGN_OUT_URL:
            return HttpResponseRedirect(settings.AUTH_PROXY_SIGN_OUT_URL)
        return redirect("provenance:login")


def _actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


@login_required
@require_POST
def group_mapping_set(request: HttpRequest, namespace: str) -> HttpResponseBase:
    _admin_namespace(request, namespace)
    form = GroupMappingForm(request.POST)
    if form.is_valid():
        try:
            changed = sso_group_mapping_set(
                group=form.cleaned_data["group"],
                namespace=namespace,
                role=form.cleaned_data["role"],
                actor=_actor(request),
            )
        except GroupMappingError as exc:
            form.add_error(None, str(exc))
        else:
            if changed:
                messages.success(
                    request,
                    f"Members of {form.cleaned_data['group']} are now "
                    f"{form.cleaned_data['role']} of {namespace}.",
                )
            return redirect(reverse("provenance:namespace-settings", args=[namespace]) + "#sso")
    context = _settings_context(request, namespace)
    context["sso"] = settings_section(namespace, form)
    return render(request, "provenance/namespace_settings.html", context, status=400)


@login_required
@require_POST
def group_mapping_remove(request: HttpRequest, namespace: str) -> HttpResponseBase:
    _admin_namespace(request, namespace)
    group = request.POST.get("group", "")
    try:
        removed = sso_group_mapping_remove(group=group, namespace=namespace, actor=_actor(request))
    except GroupMappingError as exc:
        messages.error(request, str(exc))
    else:
        if removed:
            messages.success(request, f"Members of {group} no longer get a role in {namespace}.")
    return redirect(reverse("provenance:namespace-settings", args=[namespace]) + "#sso")
