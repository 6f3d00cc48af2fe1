from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
# Chains' conformance set, copied into the repository (see its MANIFEST.md and LICENSE.md).
CHAINS_FIXTURES = DATA / "tekton-chains"
CONFORMANCE = CHAINS_FIXTURES / "conformance"


@pytest.fixture
def tekton_data() -> Path:
    return DATA / "tekton"
