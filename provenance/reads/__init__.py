"""Reads, split by what they read: runs, artifacts, attestations, search, the deployment gate,
the verifier, namespaces, tokens and keys.

The dashboard, the API, the commands and the gate all read through these modules, so one rule
answers each question: who sees a row (``visibility``), how a digest is written
(``provenance.core.digests``), what a top-level run is (``provenance.models.top_level_q``) and
whether an attestation can be trusted (``verify``). Nothing here writes, and nothing here imports
``provenance.services`` (``tests/test_architecture.py`` checks).
"""
