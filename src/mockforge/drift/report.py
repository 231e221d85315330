"""Drift findings as JSON, JUnit XML and SARIF 2.1.0, for CI (``mockforge drift check``/``export``
and ``GET /__mockforge/drift?format=``).

- JSON: ``{"findings": [...], "count": n}``, each finding as ``Finding.to_dict``.
- JUnit XML: one ``testsuite`` ``mockforge-drift``, one ``testcase`` per operation (every spec
  operation, so clean ones show as passed, plus each undocumented endpoint), one ``failure`` per
  finding. Written with ``xml.etree`` (the standard library escapes text and attributes).
- SARIF 2.1.0: one ``run`` of the ``mockforge-drift`` tool, one rule per finding kind, one
  ``result`` per finding, located in the spec file by line when ``spec_lines`` can find the
  pointer (the loader keeps no line numbers, so the YAML/JSON file is composed once per file here,
  only when a report is written, never on the request path).

Files are written whole or not at all (``write_atomic``: a temporary file, then ``os.replace``).
"""

from __future__ import annotations

import os
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec
import yaml

from mockforge.drift.findings import KINDS, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL = "mockforge-drift"
FORMATS = ("json", "junit", "sarif")


def to_json(findings: list[Finding]) -> bytes:
    return msgspec.json.encode({"count": len(findings), "findings": [f.to_dict() for f in findings]})


#: Characters XML 1.0 cannot hold at all (escaping does not help): replaced by U+FFFD.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def to_junit(findings: list[Finding], operations: Iterable[str]) -> bytes:
    by_op: dict[str, list[Finding]] = {op: [] for op in operations}
    for f in findings:
        by_op.setdefault(f.operation, []).append(f)
    suite = ET.Element("testsuite", name=TOOL, tests=str(len(by_op)),
                       failures=str(sum(1 for fs in by_op.values() if fs)), errors="0", skipped="0")
    for op, found in by_op.items():
        case = ET.SubElement(suite, "testcase", name=_xml(op), classname="drift")
        for f in found:
            failure = ET.SubElement(case, "failure", message=_xml(f"{f.kind} at {f.pointer or '/'}"), type=f.kind)
            failure.text = _xml(f"expected: {f.expected}\ngot: {f.got}\nspec: {f.spec_file}#{f.spec_pointer}")
    suites = ET.Element("testsuites", name=TOOL, tests=suite.get("tests", "0"), failures=suite.get("failures", "0"))
    suites.append(suite)
    out: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return out


class SpecLines:
    """Line numbers (1-based) of JSON pointers in spec files, each file composed once."""

    def __init__(self) -> None:
        self._roots: dict[str, Any] = {}

    def line(self, file: str, pointer: str) -> int | None:
        if not file:
            return None
        if file not in self._roots:
            try:
                text = Path(file).read_text(encoding="utf-8")
                self._roots[file] = yaml.compose(text, Loader=yaml.SafeLoader)
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                self._roots[file] = None
        node = self._roots[file]
        if node is None:
            return None
        line = int(node.start_mark.line)
        for raw in pointer.split("/")[1:]:
            token = raw.replace("~1", "/").replace("~0", "~")
            pair = None
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == token),
                            None)
            elif isinstance(node, yaml.SequenceNode) and token.isdigit() and int(token) < len(node.value):
                pair = (node.value[int(token)], node.value[int(token)])
            if pair is None:
                break  # the deepest known place (a $ref'd part lives elsewhere)
            line, node = int(pair[0].start_mark.line), pair[1]
        return line + 1


def to_sarif(findings: list[Finding], lines: SpecLines | None = None) -> bytes:
    lines = lines or SpecLines()
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.kind,
            "ruleIndex": KINDS.index(f.kind),
            "level": "error",
            "message": {"text": f"{f.operation}: {f.kind} at {f.pointer or '/'}: expected {f.expected}, got {f.got}"},
            "properties": {"operation": f.operation, "pointer": f.pointer, "expected": f.expected, "got": f.got,
                           "specPointer": f.spec_pointer},
        }
        if f.spec_file:
            physical: dict[str, Any] = {"artifactLocation": {"uri": Path(f.spec_file).as_uri()
                                                             if os.path.isabs(f.spec_file) else f.spec_file}}
            line = lines.line(f.spec_file, f.spec_pointer)
            if line is not None:
                physical["region"] = {"startLine": line}
            result["locations"] = [{"physicalLocation": physical}]
        results.append(result)
    rules = [{"id": kind, "shortDescription": {"text": kind.replace("_", " ")}} for kind in KINDS]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": TOOL, "rules": rules}}, "results": results}],
    }
    return msgspec.json.encode(doc)


def render(fmt: str, findings: list[Finding], operations: Iterable[str]) -> tuple[bytes, str]:
    """The report in ``fmt`` (one of ``FORMATS``) and its content type."""
    if fmt == "junit":
        return to_junit(findings, operations), "application/xml"
    if fmt == "sarif":
        return to_sarif(findings), "application/sarif+json"
    return to_json(findings), "application/json"


def write_atomic(target: str | Path, data: bytes) -> None:
    """Write ``data`` to ``target`` whole or not at all."""
    path = Path(target)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
