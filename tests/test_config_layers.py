"""A wrong value in any config layer (file, profile, environment, flag) is reported even when a
higher layer overrides it, naming the layer and the key; an environment variable's error names
the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockforge.config import build_config, load_config
from mockforge.errors import ConfigError
from mockforge.testing.server import MockServer


def error_of(**kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        build_config(**kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_a_wrong_file_value_is_reported_though_a_flag_overrides_it() -> None:
    msg = error_of(data={"http": {"port": "nope"}}, file="mf.yaml", env={}, overrides={"http.port": 0})
    assert msg == "mf.yaml at http.port: Expected `int`, got `str`"


def test_a_wrong_profile_value_is_reported_though_the_environment_overrides_it() -> None:
    data = {"profiles": {"ci": {"http": {"validation": {"mode": "strictest"}}}}}
    msg = error_of(data=data, file="mf.yaml", profile="ci", env={"MOCKFORGE_REQUEST_VALIDATION": "off"})
    assert msg.startswith("mf.yaml at profiles.ci.http.validation.mode: Invalid enum value 'strictest'")
    assert "expected one of: off, warn, enforce" in msg


@pytest.mark.parametrize(("value", "reason"), [
    ("abc", "Expected `int`, got `str`"),
    ("70000", "expected a port from 0 to 65535, got 70000"),
])
def test_a_wrong_environment_variable_is_named_though_a_flag_overrides_it(value: str, reason: str) -> None:
    msg = error_of(env={"MOCKFORGE_HTTP_PORT": value}, overrides={"http.port": 0})
    assert msg == f"environment variable MOCKFORGE_HTTP_PORT at http.port: {reason}"


def test_a_wrong_flag_names_the_command_line() -> None:
    assert error_of(env={}, overrides={"http.port": -1}) == (
        "command line at http.port: expected a port from 0 to 65535, got -1"
    )


def test_good_layers_still_merge_by_precedence(tmp_path: Path) -> None:
    cfg_file = tmp_path / "mockforge.yaml"
    cfg_file.write_text("http: {port: 4000}\nprofiles: {ci: {http: {port: 4001}}}\n")
    cfg = load_config(str(cfg_file), profile="ci", env={"MOCKFORGE_HTTP_PORT": "4002"}, overrides={"http.port": 4003})
    assert cfg.http.port == 4003
    assert load_config(str(cfg_file), profile="ci", env={"MOCKFORGE_HTTP_PORT": "4002"}).http.port == 4002
    assert load_config(str(cfg_file), profile="ci", env={}).http.port == 4001
    assert load_config(str(cfg_file), env={}).http.port == 4000


def test_a_yaml_boolean_state_mode_is_still_read_in_every_layer() -> None:
    assert build_config({"http": {"state": {"mode": True}}}, env={}).http.state.mode == "on"


def test_mock_server_checks_http_port_like_the_cli() -> None:
    """MockServer binds port 0, but a wrong port in the config it is given is still an error."""
    with pytest.raises(ConfigError, match=r"at http\.port: expected a port from 0 to 65535, got 70000"):
        MockServer(config={"http": {"port": 70000}})
    with pytest.raises(ConfigError, match=r"at http\.port: Expected `int`, got `str`"):
        MockServer(config={"http": {"port": "eighty"}})


@pytest.mark.parametrize("entry", ["http://x", "a b", "", "-lead.test", "10.0.0.0/33"])
def test_a_bad_callback_allow_hosts_entry_is_an_error(entry: str) -> None:
    msg = error_of(data={"http": {"callbacks": {"allow_hosts": ["localhost", entry]}}}, file="mf.yaml", env={})
    assert msg.startswith("mf.yaml at http.callbacks.allow_hosts.1: expected a host name, IP or CIDR range")


def test_callback_bounds_must_be_positive() -> None:
    msg = error_of(data={"http": {"callbacks": {"max_in_flight": 0}}}, env={})
    assert msg == "<config> at http.callbacks.max_in_flight: expected a number > 0, got 0"
