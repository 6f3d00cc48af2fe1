"""The group mapping form of a namespace's settings page."""

from __future__ import annotations

from typing import Any

from django import forms

from provenance.models import ApiToken
from provenance.reads.sso import group_mappings
from provenance.services.sso import MAX_GROUP


class GroupMappingForm(forms.Form):
    prefix = "sso"  # the token form on the same page has a "role" too
    group = forms.CharField(
        label="Group",
        max_length=MAX_GROUP,
        help_text="The group's name as the identity provider sends it (the groups claim, or "
        "the proxy's groups header).",
    )
    role = forms.ChoiceField(
        label="Role",
        choices=ApiToken.Role.choices,
        initial=ApiToken.Role.VIEWER,
        help_text="What its members may do in this namespace.",
    )


def settings_section(namespace: str, form: GroupMappingForm | None = None) -> dict[str, Any]:
    """What the settings page shows of the namespace's group mappings."""
    return {"mappings": group_mappings(namespace), "form": form or GroupMappingForm()}
