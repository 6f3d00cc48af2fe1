"""The settings page's preview: what a namespace's latest run would be attested as, under its
current settings and under the ones being edited (nothing is signed or stored)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provenance.config import NamespaceConfig
from provenance.core.errors import ProvenanceError
from provenance.core.intoto import statement_bytes
from provenance.core.oci_layout import image_subject
from provenance.core.plan import Plan, plan_statements
from provenance.core.statements import read_statement
from provenance.core.tekton import Run, TaskRun
from provenance.models import RunRecord

from .namespaces import namespace_settings_effective
from .runs import latest_run, parse_run, records_source, run_children


@dataclass
class PlanSummary:
    settings: NamespaceConfig
    statements: int
    subjects: list[str]
    scope: str
    predicate: str
    build_type: str
    builder_id: str
    waiting: list[str]
    scopes: dict[str, tuple[str, ...]]  # per-artifact: subject → in-scope tasks
    digests: list[str] = field(default_factory=list)
    # Where the attestations would be published (docs/oci.md): the .att tags; empty when the
    # namespace does not publish or no subject is an OCI image.
    publish_to: list[str] = field(default_factory=list)


@dataclass
class SettingsPreview:
    run: RunRecord | None
    current: PlanSummary | None = None
    proposed: PlanSummary | None = None
    error: str = ""
    source: str = ""  # how the run's records came (records_source)

    @property
    def changes(self) -> list[str]:
        """What a person should notice, in words."""
        if self.current is None or self.proposed is None:
            return []
        a, b = self.current, self.proposed
        found = []
        if a.statements != b.statements:
            found.append(f"statements for this run: {a.statements} → {b.statements}")
        if a.predicate != b.predicate:
            found.append(f"predicate: {a.predicate} → {b.predicate}")
        if a.build_type != b.build_type:
            found.append(f"build type: {a.build_type} → {b.build_type}")
        if a.builder_id != b.builder_id:
            found.append(f"builder id: {a.builder_id} → {b.builder_id}")
        added = sorted(set(b.subjects) - set(a.subjects))
        removed = sorted(set(a.subjects) - set(b.subjects))
        if added:
            found.append("new subjects: " + ", ".join(added))
        if removed:
            found.append("subjects no longer attested: " + ", ".join(removed))
        if a.scope != b.scope:
            found.append(f"scope: {a.scope} → {b.scope}")
        for subject, tasks in b.scopes.items():
            before = a.scopes.get(subject)
            if before is not None and before != tasks:
                found.append(f"tasks in scope of {subject}: {', '.join(tasks)}")
        if a.publish_to != b.publish_to:
            found.append("published to: " + (", ".join(b.publish_to) or "nowhere"))
        if a.waiting != b.waiting:
            found.append("waiting: " + ("; ".join(b.waiting) if b.waiting else "nothing"))
        return found


def _summarize(run: Run, config: NamespaceConfig, source: str) -> PlanSummary:
    """What ``run`` (whose records came as ``source``) would be attested as under ``config``."""
    slsa = config.slsa_for(source, taskrun=isinstance(run, TaskRun))
    plan: Plan = plan_statements(run, slsa, config.scope, config.emit, source=source)
    subjects: list[str] = []
    digests: list[str] = []
    publish_to: list[str] = []
    scopes: dict[str, tuple[str, ...]] = {}
    predicate = ""
    build_type = ""
    for planned in plan.statements:
        decoded = read_statement(statement_bytes(planned.statement))
        predicate = decoded.predicate_label
        build_type = decoded.build_type
        names = [s.name for s in decoded.subjects]
        subjects.extend(names)
        digests.extend(f"{a}:{h}" for s in decoded.subjects for a, h in s.digests)
        if config.oci_publish:
            for s in decoded.subjects:
                for a, h in s.digests:
                    image = image_subject(s.name, a, h)
                    if image is not None:
                        target = config.oci_target or image.repository
                        publish_to.append(f"{target.name}:{image.tag('att')}")
        if decoded.run_state is not None and names:
            tasks = tuple(
                str(t.get("pipelineTask", "")) for t in decoded.run_state.get("inScope") or []
            )
            scopes[names[0]] = tasks
    return PlanSummary(
        settings=config,
        statements=len(plan.statements),
        subjects=list(dict.fromkeys(subjects)),
        scope=config.scope,
        predicate=predicate or "—",
        build_type=build_type or "—",
        builder_id=slsa.builder_id,
        waiting=[f"{w.subject}: {w.reason}" if w.subject else w.reason for w in plan.waiting],
        scopes=scopes,
        digests=list(dict.fromkeys(digests)),
        publish_to=list(dict.fromkeys(publish_to)),
    )


def settings_preview(namespace: str, proposed: dict[str, Any]) -> SettingsPreview:
    """What the namespace's latest run would be attested as, now and under ``proposed``."""
    record = latest_run(namespace)
    preview = SettingsPreview(run=record)
    if record is None:
        return preview
    current, _ = namespace_settings_effective(namespace)
    children = list(run_children(record, with_records=True))
    source = preview.source = records_source([record, *children])
    try:
        run = parse_run(record, children)
        preview.current = _summarize(run, current, source)
        preview.proposed = _summarize(run, current.changed(proposed), source)
    except (ProvenanceError, StopIteration) as exc:
        preview.error = str(exc) or type(exc).__name__
    return preview
