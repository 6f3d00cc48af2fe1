"""OpenID Connect sign-in: mozilla-django-oidc's authorization code flow (with PKCE, state and
nonce), made strict where it is lenient and tied to chainsweb's users and groups.

- The provider's endpoints come from ``OIDC_ISSUER``'s discovery document, whose ``issuer`` must
  be that URL (OpenID Connect Discovery 1.0, section 4.3); it is cached for an hour.
- The ID Token must be signed with ``OIDC_SIGN_ALGORITHM`` by a key of the provider's JWKS, be
  issued by the issuer, to this client (``aud``; ``azp`` when there are several audiences), not
  expired, and carry the nonce of the sign-in that the state names (OpenID Connect Core 1.0,
  3.1.3.7). mozilla-django-oidc leaves the audience and issuer unchecked; this does not.
- UserInfo answers for the same ``sub`` as the ID Token (Core 5.3.2), or the sign-in fails.
- Users are found by (issuer, sub), never by e-mail, and created on first sign-in
  (``services.sso_user_signed_in``); their groups come from ``OIDC_GROUPS_CLAIM``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from provenance.services.sso import SignInRefused, sso_user_signed_in

logger = logging.getLogger(__name__)

DISCOVERY_TTL = 3600.0
_discovery_lock = threading.Lock()
_discovered: dict[str, tuple[float, dict[str, Any]]] = {}


# What talking to the provider can raise (mozilla-django-oidc lets requests' errors through).
PROVIDER_ERRORS = (requests.RequestException,)
HTTP_ERROR = requests.HTTPError


class ProviderUnavailable(Exception):
    """The identity provider's discovery document cannot be had (or is not the issuer's)."""


def discovery(issuer: str | None = None) -> dict[str, Any]:
    """The issuer's OpenID Provider Metadata, fetched at most once an hour per process."""
    issuer = issuer or settings.OIDC_ISSUER
    with _discovery_lock:
        cached = _discovered.get(issuer)
        if cached is not None and time.monotonic() - cached[0] < DISCOVERY_TTL:
            return cached[1]
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(
            url, timeout=settings.OIDC_TIMEOUT_SECONDS, verify=settings.OIDC_VERIFY_SSL
        )
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"cannot read {url}: {type(exc).__name__}") from None
    if not isinstance(document, dict) or document.get("issuer") != issuer:
        raise ProviderUnavailable(f"{url} is not the discovery document of {issuer}")
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        if not isinstance(document.get(name), str):
            raise ProviderUnavailable(f"{url} names no {name}")
    with _discovery_lock:
        _discovered[issuer] = (time.monotonic(), document)
    return document


def forget_discovery() -> None:
    """Drop the cached documents (tests start providers on new ports)."""
    with _discovery_lock:
        _discovered.clear()


class OidcBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """Constructed for every authentication and every session request, so it reads nothing
    from the provider until a sign-in needs it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_SIGN_ALGORITHM
        self.OIDC_RP_IDP_SIGN_KEY = None

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:  # noqa: N802 (mozilla-django-oidc's name)
        return str(discovery()["token_endpoint"])

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:  # noqa: N802
        return str(discovery()["userinfo_endpoint"])

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:  # noqa: N802
        return str(discovery()["jwks_uri"])

    def _verify_jws(self, payload: bytes | str, key: Any) -> dict[str, Any]:
        try:
            algorithm = jwt.get_unverified_header(payload).get("alg")
        except jwt.PyJWTError:
            raise SignInRefused("the ID token is not a JWT") from None
        if algorithm != self.OIDC_RP_SIGN_ALGO:
            raise SignInRefused(
                f"the ID token is signed with {algorithm!r}, not {self.OIDC_RP_SIGN_ALGO}"
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER,
                leeway=settings.OIDC_CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise SignInRefused("the ID token has expired") from None
        except jwt.InvalidAudienceError:
            raise SignInRefused("the ID token was issued to another client (aud)") from None
        except jwt.InvalidIssuerError:
            raise SignInRefused("the ID token was issued by another provider (iss)") from None
        except jwt.ImmatureSignatureError:
            raise SignInRefused("the ID token is not valid yet (iat)") from None
        except jwt.PyJWTError as exc:
            raise SignInRefused(f"the ID token is invalid: {type(exc).__name__}") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SignInRefused("the ID token names several audiences but not us as azp")
        return claims

    def get_userinfo(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        userinfo: dict[str, Any] = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SignInRefused("the UserInfo answer is about another subject than the ID token")
        # The ID Token's claims, completed by UserInfo (where most providers put groups).
        return {**payload, **userinfo}

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        claims = self.get_userinfo(access_token, id_token, payload)
        groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
        if isinstance(groups, str):  # some providers send one group as a string
            groups = [groups]
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise SignInRefused(f"the {settings.OIDC_GROUPS_CLAIM!r} claim is not a list of names")
        username = claims.get(settings.OIDC_USERNAME_CLAIM) or claims.get("email") or claims["sub"]
        user = sso_user_signed_in(
            issuer=settings.OIDC_ISSUER,
            subject=str(claims["sub"]),
            username=str(username),
            email=str(claims.get("email") or ""),
            groups=groups,
        )
        logger.info(
            "signed in %s with OpenID Connect (groups: %s)",
            user.get_username(),
            ", ".join(sorted(groups)) or "none",
        )
        return user
