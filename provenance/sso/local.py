"""Local Django passwords under ``LOCAL_LOGIN``: on (everyone), staff (break-glass
administrators only, the default once single sign-on is set up) or off."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class LocalPasswordBackend(ModelBackend):
    def user_can_authenticate(self, user: Any) -> bool:
        policy = settings.LOCAL_LOGIN
        if policy == "off":
            return False
        if policy == "staff" and not (user.is_staff or user.is_superuser):
            return False
        return super().user_can_authenticate(user)
