"""The outputs' per-request link cache gives exactly what ``reverse()`` gives, row by row."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory
from django.urls import reverse, set_script_prefix

from provenance.api.outputs import Links

ARGS = {
    "api:attestation-detail": [1, 42, 999_999_999_999_999_999],
    "api:record-detail": [
        "6f1c7d4e-1b2a-4c3d-9e8f-0a1b2c3d4e5f",
        "a.b_c-d",
        "..",
        ".hidden",
        "with space",
        "ünïcode",
        "q?x#y%z",
        "colon:at@plus+",
    ],
    "api:artifact-attestations-jsonl": ["sha256:" + "ab" * 32, "SHA512:00FF"],
}


@pytest.mark.parametrize("prefix", ["/", "/under/a prefix/"])
@pytest.mark.parametrize("host", ["testserver", "example.org:8443"])
def test_links_match_reverse(prefix: str, host: str, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver", "example.org"]
    request = RequestFactory().get("/api/v1/attestations", HTTP_HOST=host, secure=True)
    set_script_prefix(prefix)
    try:
        links = Links(request)
        for route, args in ARGS.items():
            for arg in args * 2:  # the second round is served from the cache
                expected = request.build_absolute_uri(reverse(route, args=[arg]))
                assert links.url(route, arg) == expected
        assert set(links.halves) == set(ARGS)
        assert Links(None).url("api:record-detail", "x") == reverse("api:record-detail", args=["x"])
    finally:
        set_script_prefix("/")
