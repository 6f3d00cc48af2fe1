from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared"
CHAINS_FIXTURES = SHARED / "fixtures" / "tekton-chains"
CONFORMANCE = CHAINS_FIXTURES / "conformance"
DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def tekton_data() -> Path:
    return DATA / "tekton"
