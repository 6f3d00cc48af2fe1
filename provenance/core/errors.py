"""Errors raised by the provenance engine.

Every error carries a message meant for a person: the CLI prints it as is, the API returns it in
``{"error": ...}``.
"""

from __future__ import annotations


class ProvenanceError(Exception):
    """Base class for every error the engine raises on purpose."""


class RecordError(ProvenanceError):
    """The input is not a Tekton run record the engine can use (bad JSON/YAML, wrong kind, ...)."""


class FormatError(ProvenanceError):
    """The statement cannot be built: unknown format or build type, or a value Chains rejects."""


class SigningError(ProvenanceError):
    """A key cannot be loaded or a signature cannot be made or checked."""
