"""Fast synthetic rows for the read benchmarks and the query-plan test (raw SQL, no ORM).

``seed(cursor, attestations=N, runs=R)`` inserts R run records (one PipelineRun in five) and N
attestations over them, each attestation naming one artifact of its own plus one shared
"base image" artifact out of 1,000, spread over ``NAMESPACES``. Ids continue after whatever is
in the tables. Rows are shaped like real ones (hex digests, namespaces, statuses) but the
statements and envelopes are placeholders that do not verify. Then ANALYZE.
"""

from __future__ import annotations

from typing import Any

NAMESPACES = ("team-a", "team-b", "team-c", "team-d")
SHARED = 1000  # shared artifacts ("base images"), each named by N / 1000 attestations


def artifact_hex(artifact_id: int) -> str:
    """The digest (hex) of a seeded artifact, by id."""
    import hashlib

    return hashlib.sha256(f"a{artifact_id}".encode()).hexdigest()


def seed(cursor: Any, *, attestations: int, runs: int) -> dict[str, int]:
    ns = "ARRAY[" + ",".join(f"'{n}'" for n in NAMESPACES) + "]"
    k = len(NAMESPACES)

    def base(table: str) -> int:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM provenance_{table}")
        return int(cursor.fetchone()[0])

    run0, art0, att0 = base("runrecord"), base("artifact"), base("attestation")

    def h64(tag: str) -> str:
        """SQL for 64 hex characters unique to the attestation of this row."""
        return f"md5('{tag}' || ({att0} + g)) || md5('{tag}' || ({att0} + g))"

    cursor.execute(
        f"""
        INSERT INTO provenance_runrecord (id, uid, kind, namespace, name, definition, pipeline_task,
            parent_uid, parent_name, status, reason, start_time, completion_time, labels,
            resource_version, raw, raw_sha256, source_kind, source_detail, first_seen, updated,
            compute_status, compute_reason, compute_updated)
        SELECT {run0} + g, 'seed-uid-' || ({run0} + g),
            CASE WHEN g % 5 = 0 THEN 'PipelineRun' ELSE 'TaskRun' END,
            ({ns})[1 + g % {k}], 'run-' || g, 'build-' || (g % 50), '', '', '',
            CASE WHEN g % 20 = 0 THEN 'False' ELSE 'True' END, 'Succeeded',
            now() - (g || ' seconds')::interval,
            now() - (g || ' seconds')::interval + interval '5 minutes',
            '{{}}'::jsonb, g::text, '\\x789c030000000001'::bytea,
            md5(g::text) || md5(g::text), 'import', '{{"file": "seed"}}'::jsonb,
            now(), now(), 'signed', '', now()
        FROM generate_series(1, {runs}) AS g
        """
    )
    cursor.execute(
        f"""
        INSERT INTO provenance_artifact (id, uri, algorithm, hex)
        SELECT {art0} + g, 'registry.example/team/app-' || (g % 5000), 'sha256',
               encode(sha256(('a' || ({art0} + g))::bytea), 'hex')
        FROM generate_series(1, {attestations}) AS g
        UNION ALL
        SELECT {art0} + {attestations} + g, 'registry.example/base/image-' || g, 'sha256',
               encode(sha256(('b' || ({art0} + g))::bytea), 'hex')
        FROM generate_series(1, {SHARED}) AS g
        """
    )
    # Attestation g belongs to run 1 + g % runs, in that run's namespace.
    cursor.execute(
        f"""
        INSERT INTO provenance_attestation (id, run_id, namespace, format, scope, emit, subject_key,
            run_status, run_reason, statement, statement_sha256, envelope, envelope_sha256, key_id,
            settings, inputs_digest, created, superseded_by_id)
        SELECT {att0} + g, {run0} + 1 + g % {runs}, ({ns})[1 + (1 + g % {runs}) % {k}], 'slsa/v1',
            CASE WHEN g % 2 = 0 THEN 'per-run' ELSE 'per-artifact' END, 'on-completion', '',
            'True', 'Succeeded', '\\x7b7d'::bytea, {h64("s")}, '\\x7b7d'::bytea,
            {h64("e")}, 'seed-key', '{{}}'::jsonb, {h64("i")},
            now() - (g || ' seconds')::interval, NULL
        FROM generate_series(1, {attestations}) AS g
        """
    )
    cursor.execute(
        f"""
        INSERT INTO provenance_attestation_subjects (attestation_id, artifact_id)
        SELECT {att0} + g, {art0} + g FROM generate_series(1, {attestations}) AS g
        UNION ALL
        SELECT {att0} + g, {art0} + {attestations} + 1 + g % {SHARED}
        FROM generate_series(1, {attestations}) AS g
        """
    )
    cursor.execute("SELECT coalesce(max(seq), 0), coalesce(max(id), 0) FROM provenance_chainentry")
    seq0, entry0 = (int(v) for v in cursor.fetchone())
    cursor.execute(
        f"""
        INSERT INTO provenance_chainentry (id, seq, attestation_id, envelope_sha256, prev_hash,
            entry_hash, created)
        SELECT {entry0} + g, {seq0} + g, {att0} + g, {h64("e")},
            {h64("p")}, {h64("h")}, now()
        FROM generate_series(1, {attestations}) AS g
        """
    )
    tables = ("runrecord", "artifact", "attestation", "attestation_subjects", "chainentry")
    for table in tables:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('provenance_{table}', 'id'), "
            f"(SELECT max(id) FROM provenance_{table}))"
        )
        cursor.execute(f"ANALYZE provenance_{table}")
    return {"run0": run0, "artifact0": art0, "attestation0": att0}
