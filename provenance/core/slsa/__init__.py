"""SLSA statement generators, selected by Chains' format names (spec §1)."""

from __future__ import annotations

from collections.abc import Callable

from ..intoto import Statement
from ..tekton import PipelineRun, Run, TaskRun
from . import v02, v1
from .config import FORMAT_NAMES, PREDICATE_VERSION, SlsaConfig

TaskRunGenerator = Callable[[TaskRun, SlsaConfig], Statement]
PipelineRunGenerator = Callable[..., Statement]

# Explicit table: Chains format name -> (TaskRun generator, PipelineRun generator).
FORMATS: dict[str, tuple[TaskRunGenerator, PipelineRunGenerator]] = {
    "slsa/v1": (v02.task_run_statement, v02.pipeline_run_statement),
    "in-toto": (v02.task_run_statement, v02.pipeline_run_statement),
    "slsa/v2alpha3": (v1.task_run_statement, v1.pipeline_run_statement),
    "slsa/v2alpha4": (v1.task_run_statement, v1.pipeline_run_statement),
}


def generate(run: Run, cfg: SlsaConfig) -> Statement:
    """The per-run statement Tekton Chains produces for ``run`` under ``cfg``."""
    for_task_run, for_pipeline_run = FORMATS[cfg.format]
    if isinstance(run, PipelineRun):
        return for_pipeline_run(run, cfg)
    return for_task_run(run, cfg)


__all__ = ["FORMATS", "FORMAT_NAMES", "PREDICATE_VERSION", "SlsaConfig", "generate"]
