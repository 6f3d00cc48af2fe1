"""chainsweb's provenance engine: Tekton run records in, in-toto statements out.

Pure Python: no Django, Celery or database imports (``tests/test_architecture.py`` checks).
"""

from __future__ import annotations

from .documents import load_documents
from .errors import FormatError, ProvenanceError, RecordError, SigningError
from .slsa import FORMATS, SlsaConfig, generate
from .tekton import PipelineRun, TaskRun, parse_records

__all__ = [
    "FORMATS",
    "FormatError",
    "PipelineRun",
    "ProvenanceError",
    "RecordError",
    "SigningError",
    "SlsaConfig",
    "TaskRun",
    "generate",
    "load_documents",
    "parse_records",
]
