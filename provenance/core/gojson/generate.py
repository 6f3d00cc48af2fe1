"""Write ``tekton_v1.json``, the Go types Chains encodes, from the Go sources Chains vendors.

    python -m provenance.core.gojson.generate SRC [--check]

``SRC`` is a checkout (or ``git archive``) of tektoncd/chains at the commit chainsweb follows; its
``vendor/`` folder holds Tekton Pipelines, Kubernetes and Knative at the versions Chains builds
with. Starting from ``v1.TaskRun`` and ``v1.PipelineRun``, every struct reachable through a field
is written down as Go declares it: field name, type and ``json`` tag, in declaration order. Types
with their own ``MarshalJSON``/``UnmarshalJSON`` are listed as ``"custom"``: their Python
codecs are written by hand (``custom.py``), and a new one fails the run rather than being
encoded field by field. ``--check`` compares instead of writing (exit 1 when they differ).

The reader understands the subset of Go that API type files use (one field per line, no
anonymous struct types); anything else is refused with the file and the line.
"""

from __future__ import annotations

import json
import re
import sys
from argparse import ArgumentParser
from dataclasses import dataclass, field
from pathlib import Path

OUTPUT = Path(__file__).with_name("tekton_v1.json")
ROOTS = ("v1.TaskRun", "v1.PipelineRun")

# Go import path -> the alias the schema uses (the one Tekton's own sources use for it).
PACKAGES = {
    "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1": "v1",
    "github.com/tektoncd/pipeline/pkg/apis/pipeline/pod": "pod",
    "github.com/tektoncd/pipeline/pkg/apis/config": "config",
    "github.com/tektoncd/pipeline/pkg/apis/run/v1beta1": "runv1beta1",
    "github.com/tektoncd/pipeline/pkg/result": "result",
    "k8s.io/api/core/v1": "corev1",
    "k8s.io/apimachinery/pkg/apis/meta/v1": "metav1",
    "k8s.io/apimachinery/pkg/api/resource": "resource",
    "k8s.io/apimachinery/pkg/util/intstr": "intstr",
    "k8s.io/apimachinery/pkg/runtime": "runtime",
    "k8s.io/apimachinery/pkg/types": "types",
    "k8s.io/apimachinery/pkg/selection": "selection",
    "knative.dev/pkg/apis": "apis",
    "knative.dev/pkg/apis/duck/v1": "duckv1",
}
# Types whose JSON comes from the standard library, not from a struct walk.
BUILTIN = {
    "string", "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16",
    "uint32", "uint64", "float32", "float64", "byte",
}  # fmt: skip
# Stand-ins for standard library types met inside the API types.
STDLIB = {"time.Duration": "int64"}

_TYPE_DECL = re.compile(r"^type\s+([A-Z]\w*)\s*(=)?\s*(.+?)\s*$")
_METHOD = re.compile(r"^func\s*\(\s*\w+\s+\*?([A-Z]\w*)\s*\)\s*(MarshalJSON|UnmarshalJSON)\(")
_IMPORT = re.compile(r'^(?:(\w+|_|\.)\s+)?"([^"]+)"$')
_FIELD = re.compile(r"^(?:([A-Z_a-z]\w*)\s+)?([^\s`]+)\s*(?:`([^`]*)`)?$")
_JSON_TAG = re.compile(r'json:"([^"]*)"')


class GoSourceError(Exception):
    """A construct this reader does not understand, with where it is."""


@dataclass
class Package:
    alias: str
    # type name -> ("struct", [(name, type, tag)]) or ("type", expression) for named types
    structs: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    named: dict[str, str] = field(default_factory=dict)
    custom: set[str] = field(default_factory=set)
    aliases: set[str] = field(default_factory=set)  # "type A = B": same type, same methods
    # per type: the file's imports, to resolve "metav1.Time" inside it
    imports_of: dict[str, dict[str, str]] = field(default_factory=dict)


def _strip_comments(text: str) -> str:
    """Remove // and /* */ comments outside string, rune and raw-string literals."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif char in "`\"'":
            end = i + 1
            while end < n and text[end] != char:
                end += 2 if char != "`" and text[end] == "\\" else 1
            out.append(text[i : end + 1])
            i = end + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _imports(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    block = re.search(r"^import\s*\((.*?)^\)", text, re.S | re.M)
    lines = block.group(1).splitlines() if block else []
    lines += [
        m.group(1) for m in re.finditer(r"^import\s+(\S.*)$", text, re.M) if "(" not in m.group(1)
    ]
    for line in lines:
        match = _IMPORT.match(line.strip())
        if match:
            path = match.group(2)
            found[match.group(1) or path.rsplit("/", 1)[-1]] = path
    return found


def read_package(folder: Path, alias: str) -> Package:
    package = Package(alias)
    for path in sorted(folder.glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        text = _strip_comments(path.read_text())
        imports = _imports(text)
        lines = text.splitlines()
        index = 0
        while index < len(lines):
            line = lines[index].strip()
            index += 1
            method = _METHOD.match(line)
            if method:
                package.custom.add(method.group(1))
                continue
            declaration = _TYPE_DECL.match(line)
            if not declaration:
                continue
            name, alias_sign, rest = declaration.groups()
            package.imports_of[name] = imports
            if alias_sign:
                package.aliases.add(name)
            if rest == "struct {":
                fields: list[tuple[str, str, str]] = []
                while index < len(lines) and lines[index].strip() != "}":
                    body = lines[index].strip()
                    index += 1
                    if body:
                        fields.append(_parse_field(body, path, index))
                index += 1
                package.structs[name] = fields
            elif re.fullmatch(r"struct\s*\{\s*\}", rest):
                package.structs[name] = []
            elif rest.startswith("struct"):
                raise GoSourceError(f"{path}:{index}: one-line struct {name} not understood")
            elif rest.startswith("interface") or rest.startswith("func"):
                continue
            else:
                package.named[name] = rest
    return package


def _parse_field(line: str, path: Path, number: int) -> tuple[str, str, str]:
    match = _FIELD.match(line.replace("interface{}", "any"))
    if not match or "," in (match.group(1) or "") or "{" in match.group(2):
        # Kept, and refused only if a root type reaches this struct.
        return "", f"?{path}:{number}: field {line!r} not understood", ""
    name, type_, tags = match.group(1) or "", match.group(2), match.group(3) or ""
    tag = _JSON_TAG.search(tags)
    return name, type_, tag.group(1) if tag else ""


@dataclass
class Schema:
    packages: dict[str, Package]
    types: dict[str, object] = field(default_factory=dict)
    custom: list[str] = field(default_factory=list)

    def add(self, qualified: str) -> None:
        """Add a type and, depth first, every type its fields use."""
        if qualified in self.types or qualified in BUILTIN:
            return
        if qualified in STDLIB or qualified == "any":
            return
        alias, _, name = qualified.partition(".")
        package = self.packages.get(alias)
        if package is None:
            raise GoSourceError(f"type {qualified} is in a package the schema does not read")
        if name in package.custom:
            self.types[qualified] = "custom"
            self.custom.append(qualified)
            return
        imports = package.imports_of.get(name)
        if imports is None:
            raise GoSourceError(f"type {qualified} not found")
        if name in package.structs:
            fields: list[list[str]] = []
            self.types[qualified] = fields
            for go_name, type_, tag in package.structs[name]:
                if go_name and not go_name[0].isupper():
                    continue  # unexported: encoding/json never sees it
                if tag == "-":
                    continue
                if type_.startswith("?"):
                    raise GoSourceError(type_[1:])
                resolved = self._qualify(type_, alias, imports)
                fields.append([go_name, resolved, tag])
                for used in _named_parts(resolved):
                    self.add(used)
        else:
            resolved = self._qualify(package.named[name], alias, imports)
            self.types[qualified] = resolved
            target = self._custom_target(resolved)
            if target and name not in package.aliases:
                # "type A B" drops B's methods: A would be encoded field by field.
                raise GoSourceError(f"{qualified} is a new type over {target}, not understood")
            for used in _named_parts(resolved):
                self.add(used)

    def _custom_target(self, expression: str) -> str | None:
        alias, _, name = expression.partition(".")
        package = self.packages.get(alias)
        return expression if package is not None and name in package.custom else None

    def _qualify(self, expression: str, alias: str, imports: dict[str, str]) -> str:
        """``[]corev1.EnvVar`` in package v1 -> ``[]corev1.EnvVar``; ``Param`` -> ``v1.Param``."""

        def one(match: re.Match[str]) -> str:
            word = match.group(0)
            if "." in word:
                prefix, _, name = word.partition(".")
                full = f"{prefix}.{name}"
                if full in STDLIB:
                    return full
                path = imports.get(prefix)
                if path is None or path not in PACKAGES:
                    raise GoSourceError(f"{word}: package {path or prefix} is not read")
                return f"{PACKAGES[path]}.{name}"
            if word in BUILTIN or word in ("map", "any"):
                return word
            return f"{alias}.{word}"

        return re.sub(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?", one, expression)


def _named_parts(expression: str) -> list[str]:
    return [
        word
        for word in re.findall(r"[A-Za-z_]\w*(?:\.\w+)?", expression)
        if word not in BUILTIN and word not in ("map", "any")
    ]


def build(source: Path) -> dict[str, object]:
    vendor = source / "vendor"
    packages = {}
    for path, alias in PACKAGES.items():
        folder = vendor / path
        if folder.is_dir():
            packages[alias] = read_package(folder, alias)
    schema = Schema(packages)
    for root in ROOTS:
        schema.add(root)
    modules = (source / "vendor" / "modules.txt").read_text()
    versions = {
        module: version
        for module, version in re.findall(r"^# (\S+) (\S+)$", modules, re.M)
        if module
        in ("github.com/tektoncd/pipeline", "k8s.io/api", "k8s.io/apimachinery", "knative.dev/pkg")
    }
    return {
        "about": (
            "Go types that Tekton Chains json.Marshals, as declared: [field, type, json tag] in "
            "declaration order (an empty field name is an embedded struct). Written by "
            "provenance/core/gojson/generate.py; do not edit by hand."
        ),
        "versions": versions,
        "packages": {alias: path for path, alias in PACKAGES.items() if alias in packages},
        "roots": list(ROOTS),
        "types": dict(sorted(schema.types.items())),
    }


def render(data: dict[str, object]) -> str:
    """JSON with one field per line, so a Tekton upgrade reads as a small diff."""
    lines = ["{"]
    head = {key: value for key, value in data.items() if key != "types"}
    for key, value in head.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value)},")
    lines.append('  "types": {')
    types = data["types"]
    assert isinstance(types, dict)
    for position, (name, definition) in enumerate(types.items()):
        comma = "," if position < len(types) - 1 else ""
        if isinstance(definition, list):
            lines.append(f"    {json.dumps(name)}: [")
            for index, entry in enumerate(definition):
                end = "," if index < len(definition) - 1 else ""
                lines.append(f"      {json.dumps(entry)}{end}")
            lines.append(f"    ]{comma}")
        else:
            lines.append(f"    {json.dumps(name)}: {json.dumps(definition)}{comma}")
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m provenance.core.gojson.generate")
    parser.add_argument("source", type=Path, help="tektoncd/chains source tree (with vendor/)")
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    options = parser.parse_args(argv)
    try:
        text = render(build(options.source))
    except GoSourceError as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    if options.check:
        same = OUTPUT.exists() and OUTPUT.read_text() == text
        print("up to date" if same else f"{OUTPUT} differs from the Go sources", file=sys.stderr)
        return 0 if same else 1
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
