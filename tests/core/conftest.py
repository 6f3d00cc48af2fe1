from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared"
CHAINS_FIXTURES = SHARED / "fixtures" / "tekton-chains"
CONFORMANCE = CHAINS_FIXTURES / "conformance"
REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


@pytest.fixture
def tekton_data() -> Path:
    return DATA / "tekton"
