"""``mockforge init DIR``: a commented config and an example spec to start from."""

from __future__ import annotations

import os
from pathlib import Path

from mockforge.errors import ConfigError

CONFIG_TEMPLATE = """\
# mockforge configuration. Every key is optional; the values shown are the defaults unless noted.
# Precedence: CLI flag > MOCKFORGE_* environment > profile > this file > default.
# Durations are integer milliseconds with keys ending in _ms. Relative paths resolve against
# this file's folder. See docs/CONFIG.md for every key and environment variable.

http:
  host: 127.0.0.1          # MOCKFORGE_HTTP_HOST
  port: 3000               # MOCKFORGE_HTTP_PORT; 0 picks a free port
  specs: [openapi.yaml]    # OpenAPI 2.0, 3.0 or 3.1, YAML or JSON (not a default)
  validation:
    mode: enforce          # off | warn | enforce (MOCKFORGE_REQUEST_VALIDATION)
    status: 400            # or 422
    overrides: {}          # e.g. {"POST /items": warn}
  response_template_expand: false   # {{uuid}}, {{now+1d}}, {{request.path.id}}, ...
  cors: {enabled: true, origins: ["*"]}
  max_body_bytes: 10485760
  # routes: []             # stubs: see docs/STUBS.md
  # watch: false           # reload specs and stubs on change (--watch)

websocket:
  enabled: false           # also served on the HTTP port at every route path
  # port: 3001             # MOCKFORGE_WS_PORT; giving a port starts the listener
  routes:
    - {path: /ws, mode: echo}

# grpc:
#   proto_dir: protos      # serve every service in these .proto files (MOCKFORGE_GRPC_PORT, default 50051)

admin:
  enabled: false           # admin listener on 127.0.0.1:9080 (the admin paths are on the HTTP port too)

core:
  max_request_logs: 1000   # MOCKFORGE_MAX_REQUEST_LOGS; about 1 KB per entry
  # seed: 42               # MOCKFORGE_SEED: reproducible generated data

observability:
  log_level: info          # MOCKFORGE_LOG_LEVEL

profiles:
  ci:                      # mockforge serve --profile ci
    http: {port: 0}
    core: {seed: 1}
"""

SPEC_TEMPLATE = """\
openapi: 3.1.0
info: {title: My API, version: 0.1.0}
paths:
  /items:
    get:
      operationId: listItems
      responses:
        "200":
          description: Items
          content:
            application/json:
              schema: {type: array, maxItems: 5, items: {$ref: "#/components/schemas/Item"}}
  /items/{id}:
    get:
      operationId: getItem
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses:
        "200":
          description: One item
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Item"}
              example: {id: 1, name: First item, price: 9.5}
components:
  schemas:
    Item:
      type: object
      required: [id, name]
      properties:
        id: {type: integer}
        name: {type: string}
        price: {type: number, minimum: 0}
"""


def write_project(directory: Path, *, force: bool = False) -> list[Path]:
    files = {directory / "mockforge.yaml": CONFIG_TEMPLATE, directory / "openapi.yaml": SPEC_TEMPLATE}
    if not force:
        existing = [str(p) for p in files if p.exists()]
        if existing:
            raise ConfigError("would overwrite existing files (use --force): " + ", ".join(existing))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write: {exc.strerror}", file=str(directory)) from None
    return list(files)
