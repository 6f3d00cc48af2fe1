#!/usr/bin/env python3
"""Write the differential corpus: generated Tekton run records and the statements real Tekton
Chains produces for them (tests/data/differential/README.md).

    python tests/data/differential/generate.py --oracle /path/to/oracle [--seed 12]
        [--pipelineruns 200] [--taskruns 150] [--out tests/data/differential]

Pure standard library. Records are a function of the seed alone; statements come from the
oracle, a Go program built from Chains' own source (see the README), run twice in separate
processes with several CreatePayload calls each, so that Go's map order shows up.
"""

from __future__ import annotations

import argparse
import json
import lzma
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pipelines  # noqa: E402
import records  # noqa: E402

BUILD_TYPES = {
    "slsa": "https://tekton.dev/chains/v2/slsa",
    "slsa-tekton": "https://tekton.dev/chains/v2/slsa-tekton",
}
DEFAULT_BUILDER = "https://tekton.dev/chains/v2"


def configs_for(kind: str, builder_id: str) -> list[dict[str, Any]]:
    """Every format; deep inspection on and off for PipelineRuns; both build types for SLSA v1.0."""
    out = []
    deeps = [False, True] if kind == "PipelineRun" else [False]
    for fmt in ("slsa/v1", "slsa/v2alpha3", "slsa/v2alpha4"):
        bts = ["slsa"] if fmt == "slsa/v1" else ["slsa", "slsa-tekton"]
        for bt in bts:
            for deep in deeps:
                name = fmt.replace("/", "-")
                if fmt != "slsa/v1":
                    name += f".{bt}"
                if kind == "PipelineRun":
                    name += ".deep-on" if deep else ".deep-off"
                out.append(
                    {
                        "name": name,
                        "format": fmt,
                        "deep_inspection": deep,
                        "build_type": BUILD_TYPES[bt],
                        "builder_id": builder_id,
                    }
                )
    return out


def chains_config(c: dict[str, Any]) -> dict[str, str]:
    """The chains-config ConfigMap data for one configuration."""
    return {
        "artifacts.taskrun.format": c["format"],
        "artifacts.pipelinerun.format": c["format"],
        "artifacts.pipelinerun.enable-deep-inspection": "true" if c["deep_inspection"] else "false",
        "builddefinition.buildtype": c["build_type"],
        "builder.id": c["builder_id"],
    }


def make_cases(seed: int, n_pr: int, n_tr: int) -> list[dict[str, Any]]:
    cases = []
    for i in range(n_pr + n_tr):
        case_id = f"pr-{i + 1:04d}" if i < n_pr else f"tr-{i - n_pr + 1:04d}"
        rng = random.Random(f"{seed}:{case_id}")
        case = (
            pipelines.pipeline_run(rng, case_id)
            if i < n_pr
            else records.standalone_taskrun(rng, case_id)
        )
        doc = {
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": ""},
            "items": case.items,
        }
        sort_keys = rng.random() < 0.7  # kubectl prints unstructured objects with sorted keys
        if sort_keys:
            case.tags.add("keys-sorted")
        text = json.dumps(
            doc, separators=(",", ":"), ensure_ascii=rng.random() < 0.2, sort_keys=sort_keys
        )
        builder = (
            DEFAULT_BUILDER
            if rng.random() < 0.9
            else f"https://builder.{rng.choice(['acme', 'globex'])}.dev/chains@v2"
        )
        cases.append(
            {
                "case": case_id,
                "kind": case.kind,
                "tags": sorted(case.tags),
                "document": text,
                "configs": configs_for(case.kind, builder),
            }
        )
    return cases


def run_oracle(
    oracle: str, cases: list[dict[str, Any]], repeat: int, workdir: Path, tag: str
) -> dict[tuple[str, str], dict[str, Any]]:
    src = workdir / f"in-{tag}.jsonl"
    dst = workdir / f"out-{tag}.jsonl"
    with src.open("w") as f:
        for c in cases:
            configs = json.dumps(
                [{"name": k["name"], "config": chains_config(k)} for k in c["configs"]]
            )
            f.write(
                f'{{"id":{json.dumps(c["case"])},"configs":{configs},"input":{c["document"]}}}\n'
            )
    subprocess.run([oracle, "batch", "-repeat", str(repeat), str(src), str(dst)], check=True)
    out = {}
    for line in dst.read_text().splitlines():
        r = json.loads(line)
        out[(r["id"], r["config"])] = r
    return out


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def variation(a: Any, b: Any, path: str, found: dict[str, Any]) -> None:
    """Record where two payloads of one statement differ: a list in another order, or a value."""
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        for k in a:
            variation(a[k], b[k], f"{path}/{k}", found)
        return
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        if sorted(map(_canon, a)) == sorted(map(_canon, b)):
            found[path] = {"order": True}
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            variation(x, y, f"{path}/{i}", found)
        return
    choice = found.setdefault(path, {"choice": [a]})
    if "choice" in choice and b not in choice["choice"]:
        choice["choice"].append(b)


def spread_nondeterminism(entries: list[dict[str, Any]], statements: list[dict[str, Any]]) -> None:
    """Go's map order may keep the same order for many calls (a small map's iteration starts at one
    of 8 slots), so a place seen varying in one configuration of a case is marked in the others
    with the same deep-inspection setting where it exists in the same shape."""
    payload = {(s["case"], s["config"]): json.loads(s["payload"]) for s in statements}
    by_case: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        by_case.setdefault(e["case"], []).append(e)
    for group in by_case.values():
        for deep in (False, True):
            same = [
                e for e in group if e["deep_inspection"] == deep and e["outcome"] == "statement"
            ]
            seen: dict[str, Any] = {}
            for e in same:
                for path, how in e.get("nondeterministic", {}).items():
                    if "order" in how:
                        seen[path] = {"order": True}
                    elif "order" not in seen.get(path, {}):
                        merged = seen.setdefault(path, {"choice": []})["choice"]
                        merged += [v for v in how["choice"] if v not in merged]
            for e in same:
                doc = payload[(e["case"], e["config"])]
                for path, how in seen.items():
                    try:
                        value = doc
                        for part in path.split("/")[1:]:
                            value = value[int(part)] if isinstance(value, list) else value[part]
                    except (KeyError, IndexError, ValueError, TypeError):
                        continue
                    mine = e.setdefault("nondeterministic", {})
                    if (
                        "order" in how
                        and isinstance(value, list)
                        and len(value) > 1
                        and path not in mine
                    ):
                        mine[path] = how
                        e.setdefault("nondeterminism_inferred", []).append(path)
                    elif "choice" in how and value in how["choice"]:
                        if path not in mine:
                            e.setdefault("nondeterminism_inferred", []).append(path)
                        mine[path] = {"choice": list(how["choice"])}
                if not e.get("nondeterministic"):
                    e.pop("nondeterministic", None)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--oracle", required=True, help="the oracle binary (see README.md)")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--pipelineruns", type=int, default=200)
    ap.add_argument("--taskruns", type=int, default=150)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()

    cases = make_cases(args.seed, args.pipelineruns, args.taskruns)
    with tempfile.TemporaryDirectory() as tmp:
        first = run_oracle(args.oracle, cases, 48, Path(tmp), "1")
        second = run_oracle(args.oracle, cases, 16, Path(tmp), "2")

    entries = []
    statements = []
    for c in cases:
        for k in c["configs"]:
            r1, r2 = first[(c["case"], k["name"])], second[(c["case"], k["name"])]
            entry: dict[str, Any] = {
                "case": c["case"],
                "kind": c["kind"],
                "config": k["name"],
                "format": k["format"],
                "deep_inspection": k["deep_inspection"],
                "build_type": k["build_type"],
                "builder_id": k["builder_id"],
            }
            if r1["outcome"] != r2["outcome"]:
                entry["outcome"] = "nondeterministic-outcome"
                entry["reason"] = (
                    f"run 1: {r1['outcome']} {r1.get('reason', '')}; run 2: {r2['outcome']} {r2.get('reason', '')}"
                )
            else:
                entry["outcome"] = r1["outcome"]
                if r1["outcome"] != "statement":
                    entry["reason"] = (
                        r1["reason"].split("\n")[0] if r1["outcome"] != "panic" else r1["reason"]
                    )
            if entry["outcome"] == "statement":
                payloads = list(dict.fromkeys(r1.get("variants") or [r1["payload"]]))
                for p in r2.get("variants") or [r2["payload"]]:
                    if p not in payloads:
                        payloads.append(p)
                if len(payloads) > 1:
                    found: dict[str, Any] = {}
                    decoded = [json.loads(p) for p in payloads]
                    for other in decoded[1:]:
                        variation(decoded[0], other, "", found)
                    entry["nondeterministic"] = found
                    entry["variants_seen"] = len(payloads)
                statements.append({"case": c["case"], "config": k["name"], "payload": payloads[0]})
            entries.append(entry)

    spread_nondeterminism(entries, statements)
    out: Path = args.out
    with lzma.open(out / "records.jsonl.xz", "wt", preset=9 | lzma.PRESET_EXTREME) as f:
        for c in cases:
            f.write(
                json.dumps(
                    {
                        "case": c["case"],
                        "kind": c["kind"],
                        "tags": c["tags"],
                        "document": c["document"],
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    with lzma.open(out / "statements.jsonl.xz", "wt", preset=9 | lzma.PRESET_EXTREME) as f:
        for s in statements:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    meta = {
        "seed": args.seed,
        "pipelineruns": args.pipelineruns,
        "taskruns": args.taskruns,
        "chains_commit": "e44b60fe65e6897e3784ae4cc7f5ffe39581529e",
    }
    with (out / "index.json").open("w") as f:
        f.write('{"generated": ' + json.dumps(meta) + ',\n "entries": [\n')
        f.write(",\n".join("  " + json.dumps(e, ensure_ascii=False) for e in entries))
        f.write("\n]}\n")
    counts: dict[str, int] = {}
    for e in entries:
        counts[e["outcome"]] = counts.get(e["outcome"], 0) + 1
        if "nondeterministic" in e:
            counts["nondeterministic"] = counts.get("nondeterministic", 0) + 1
    print(f"{len(cases)} cases, {len(entries)} entries: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
