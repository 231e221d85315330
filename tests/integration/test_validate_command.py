"""``mockforge validate`` as a user runs it: each finding once on stdout, examples counted per
operation and abbreviated, ECMA-262 patterns accepted, unknown types refused, a summary line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SPEC = """
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /orders/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string, pattern: "^[\\\\w-.]+$"}}
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                required: [code, note]
                properties:
                  code: {type: string, pattern: "^(?<kind>[A-Z]{2})-\\\\d{3}$"}
                  note: {type: string}
                  brace: {type: string, pattern: "^\\\\{[\\\\d-]+}$"}
                  anything: {type: string, pattern: "^[^]*$"}
                  letters: {type: string, pattern: "^\\\\p{L}+$"}
              examples:
                first: {value: {code: "AB-123", note: 1234567}}
                second: {value: {code: "%s", note: "x"}}
"""


def mockforge(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKFORGE_")}
    return subprocess.run([sys.executable, "-m", "mockforge", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)


def write(tmp_path: Path, text: str) -> Path:
    spec = tmp_path / "api.yaml"
    spec.write_text(text)
    return spec


def test_each_warning_once_on_stdout_with_counts_and_a_summary(tmp_path: Path) -> None:
    spec = write(tmp_path, SPEC % ("n" * 400))
    result = mockforge("validate", str(spec))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    # ECMA-262 spellings ((?<name>, [\w-.], literal braces, [^], \p{L}) are neither errors nor left out
    assert not any(line.startswith("error:") for line in lines), lines
    assert not any("pattern" in line for line in lines), lines
    assert lines[0] == (f"warning: {spec}: GET /orders/{{id}}: 2 example(s) do not match their schema: "
                        "2 repaired, 0 replaced by generated bodies")
    assert lines[-1] == ("ok: 1 document(s), 1 operation(s): 0 error(s), 1 warning(s); 2 example(s) do not "
                         "match their schema (2 repaired, 0 replaced); --verbose lists them")
    assert len(lines) == 2


def test_verbose_lists_each_example_abbreviated_to_200_characters_unless_whole(tmp_path: Path) -> None:
    spec = write(tmp_path, SPEC % ("n" * 400))
    short = mockforge("validate", "--verbose", str(spec)).stdout.splitlines()
    details = [line for line in short if line.startswith("  example: ")]
    assert len(details) == 2
    first = next(d for d in details if "/examples/first/value" in d)
    assert '{"code":"AB-123","note":1234567}' in first and 'is not of type "string"' in first
    assert 'repaired to {"code":"AB-123","note":"1234567"}' in first
    second = next(d for d in details if "/examples/second/value" in d)
    assert "n" * 200 not in second and "..." in second
    whole = mockforge("validate", "-vv", str(spec)).stdout
    assert "n" * 400 in whole and "n" * 401 not in whole


def test_unknown_type_is_an_error(tmp_path: Path) -> None:
    spec = write(tmp_path, SPEC.replace("note: {type: string}", "note: {type: strng}") % "x")
    result = mockforge("validate", str(spec))
    assert result.returncode == 1 and result.stderr == ""
    assert f"error: {spec}: unknown type 'strng'" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("failed: 1 document(s), 1 operation(s): 1 error(s)")


def test_unsatisfiable_schema_is_a_warning_naming_the_place_and_the_reason(tmp_path: Path) -> None:
    spec = write(tmp_path, """
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /a:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                allOf:
                  - {type: object, required: [id], properties: {id: {type: integer}}}
                additionalProperties: false
""")
    result = mockforge("validate", str(spec))
    assert result.returncode == 0 and result.stderr == ""
    (warning,) = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert warning.startswith(f"warning: {spec} at /paths/~1a/get/responses/200/content/application~1json/schema:")
    assert "required property 'id' is forbidden by additionalProperties: false" in warning
    assert mockforge("validate", "--strict", str(spec)).returncode == 1
