from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from mockforge.config import ENV_KEYS, build_config, load_config
from mockforge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "mockforge.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(env={})
    assert cfg.http.host == "127.0.0.1"
    assert cfg.http.port == 3000
    assert cfg.core.max_request_logs == 1000
    assert cfg.http.validation.mode == "enforce"
    assert cfg.admin_listener_port() is None
    assert cfg.ws_listener_port() is None
    assert not cfg.grpc_enabled()


def test_cwd_mockforge_yaml_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "http: {port: 4123}\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(env={}).http.port == 4123


def test_precedence_flag_env_profile_file(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "http: {port: 1000, host: 127.0.0.2}\ncore: {max_request_logs: 10}\n"
        "profiles:\n  ci:\n    http: {port: 2000}\n    core: {seed: 5}\n",
    )
    cfg = load_config(str(f), profile="ci", env={})
    assert (cfg.http.port, cfg.http.host, cfg.core.seed, cfg.core.max_request_logs) == (2000, "127.0.0.2", 5, 10)
    cfg = load_config(str(f), profile="ci", env={"MOCKFORGE_HTTP_PORT": "3000"})
    assert cfg.http.port == 3000
    cfg = load_config(str(f), profile="ci", env={"MOCKFORGE_HTTP_PORT": "3000"}, overrides={"http.port": 4000})
    assert cfg.http.port == 4000


def test_profile_from_env_and_lists_replaced(tmp_path: Path) -> None:
    f = write(tmp_path, "plugins: {filters: [a, b]}\nprofiles:\n  x:\n    plugins: {filters: [c]}\n")
    cfg = load_config(str(f), env={"MOCKFORGE_PROFILE": "x"})
    assert cfg.plugins.filters == ["c"]


def test_unknown_profile_is_an_error(tmp_path: Path) -> None:
    f = write(tmp_path, "profiles: {ci: {}}\n")
    with pytest.raises(ConfigError, match=r"unknown profile 'nope' .known: ci"):
        load_config(str(f), profile="nope", env={})


def test_every_documented_env_variable_maps(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "CONFIG.md").read_text()
    documented = dict(re.findall(r"\| `(MOCKFORGE_[A-Z_]+)` \| `([a-z_.]+)`", doc))
    assert documented == ENV_KEYS
    cfg = build_config(
        {},
        env={
            "MOCKFORGE_HTTP_PORT": "1",
            "MOCKFORGE_HTTP_HOST": "0.0.0.0",
            "MOCKFORGE_ADMIN_PORT": "2",
            "MOCKFORGE_MAX_REQUEST_LOGS": "5",
            "MOCKFORGE_REQUEST_VALIDATION": "warn",
            "MOCKFORGE_LOG_LEVEL": "debug",
            "MOCKFORGE_SEED": "9",
            "MOCKFORGE_WS_PORT": "3",
            "MOCKFORGE_GRPC_PORT": "4",
            "MOCKFORGE_METRICS_PORT": "6",
        },
    )
    assert cfg.http.port == 1 and cfg.http.host == "0.0.0.0"
    assert cfg.admin.port == 2 and cfg.admin_listener_port() == 2
    assert cfg.core.max_request_logs == 5
    assert cfg.http.validation.mode == "warn"
    assert cfg.observability.log_level == "debug"
    assert cfg.core.seed == 9
    assert cfg.ws_listener_port() == 3
    assert cfg.grpc.port == 4
    assert cfg.metrics_listener_port() == 6


def test_unknown_keys_warn_with_their_names(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = write(tmp_path, "http: {port: 1, colour: red}\nbogus: 1\n")
    with caplog.at_level(logging.WARNING, "mockforge.config"):
        cfg = load_config(str(f), env={})
    assert cfg.http.port == 1
    assert "http.colour" in caplog.text and "bogus" in caplog.text and str(f) in caplog.text


@pytest.mark.parametrize(
    ("text", "where", "expected"),
    [
        ("http: {port: abc}\n", "http.port", "Expected `int`"),
        ("http: {port: 70000}\n", "http.port", "0 to 65535"),
        ("http: {validation: {mode: maybe}}\n", "http.validation.mode", "one of: off, warn, enforce"),
        ("core: {max_request_logs: -1}\n", "core.max_request_logs", ">= 0"),
        ("websocket: {routes: [{path: ws}]}\n", "websocket.routes.0.path", "start with '/'"),
    ],
)
def test_wrong_values_name_file_and_key(tmp_path: Path, text: str, where: str, expected: str) -> None:
    f = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(str(f), env={})
    msg = str(info.value)
    assert str(f) in msg and where in msg and expected in msg
    assert "\n" not in msg


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    f = write(tmp_path, "http:\n  port: [1\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_config(str(f), env={})


def test_relative_paths_resolve_against_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    f = write(sub, "http: {specs: [api.yaml]}\ngrpc: {proto_dir: protos}\n"
                   "websocket: {routes: [{path: /s, mode: script, script: chat.jsonl}]}\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(str(f), env={})
    assert cfg.http.specs == [str(sub / "api.yaml")]
    assert cfg.grpc.proto_dir == str(sub / "protos")
    assert cfg.websocket.routes[0].script == str(sub / "chat.jsonl")


def test_json_config(tmp_path: Path) -> None:
    f = write(tmp_path, '{"http": {"port": 5555}}', "c.json")
    assert load_config(str(f), env={}).http.port == 5555


def test_generated_data_keys_default_off_and_read_from_file_and_env(tmp_path: Path) -> None:
    cfg = load_config(env={})
    assert cfg.http.examples.trust is False and cfg.http.responses.dynamic is False
    f = write(tmp_path, "http: {examples: {trust: true}, responses: {dynamic: true}}\n")
    cfg = load_config(str(f), env={})
    assert cfg.http.examples.trust is True and cfg.http.responses.dynamic is True
    cfg = load_config(env={"MOCKFORGE_TRUST_EXAMPLES": "true", "MOCKFORGE_DYNAMIC_RESPONSES": "1"})
    assert cfg.http.examples.trust is True and cfg.http.responses.dynamic is True
    with pytest.raises(ConfigError):
        load_config(str(write(tmp_path, "http: {examples: {trust: maybe}}\n", "bad.yaml")), env={})
