from pathlib import Path

import pytest

from upir.errors import SettingsError
from upir.settings import Settings, load_settings


def test_defaults_without_env_or_file(tmp_path: Path) -> None:
    s = load_settings({"HOME": str(tmp_path)})
    assert s == Settings()
    assert s.solver.timeout_ms == 10_000
    assert s.cache.size == 4096
    assert s.log.level == "INFO"


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "UPIR_LOG_LEVEL": "debug",
        "UPIR_CACHE_SIZE": "7",
        "UPIR_Z3_TIMEOUT": "250",
    }
    s = load_settings(env)
    assert (s.log.level, s.cache.size, s.solver.timeout_ms) == ("DEBUG", 7, 250)


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("UPIR_Z3_TIMEOUT", "fast", "UPIR_Z3_TIMEOUT must be an integer"),
        ("UPIR_Z3_TIMEOUT", "0", "UPIR_Z3_TIMEOUT must be between"),
        ("UPIR_CACHE_SIZE", "-1", "UPIR_CACHE_SIZE must be between"),
        ("UPIR_LOG_LEVEL", "LOUD", "UPIR_LOG_LEVEL must be one of"),
    ],
)
def test_bad_environment_names_the_variable(
    tmp_path: Path, var: str, value: str, needle: str
) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_settings({"HOME": str(tmp_path), var: value})


def test_xdg_toml_file_then_env_wins(tmp_path: Path) -> None:
    cfg = tmp_path / "upir" / "upir.toml"
    cfg.parent.mkdir()
    cfg.write_text(
        '[log]\nlevel = "WARNING"\n[solver]\ntimeout_ms = 1234\nbmc_steps = 4\n[cache]\nsize = 9\n'
    )
    s = load_settings({"XDG_CONFIG_HOME": str(tmp_path)})
    assert (s.log.level, s.solver.timeout_ms, s.solver.bmc_steps, s.cache.size) == (
        "WARNING",
        1234,
        4,
        9,
    )
    s2 = load_settings({"XDG_CONFIG_HOME": str(tmp_path), "UPIR_Z3_TIMEOUT": "99"})
    assert s2.solver.timeout_ms == 99 and s2.cache.size == 9


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[solver]\ntimeout = 3\n", "unknown setting solver.timeout"),
        ("[nope]\nx = 1\n", r"unknown section \[nope\]"),
        ("[solver\n", "upir.toml"),
        ('[cache]\nsize = "big"\n', "cache.size must be an integer"),
    ],
)
def test_bad_toml_is_a_settings_error(tmp_path: Path, body: str, needle: str) -> None:
    cfg = tmp_path / "upir.toml"
    cfg.write_text(body)
    with pytest.raises(SettingsError, match=needle):
        load_settings({}, cfg)


def test_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings({"UPIR_CONFIG": str(tmp_path / "missing.toml")})


def test_conformance_windows_from_file_then_environment(tmp_path: Path) -> None:
    assert load_settings({"HOME": str(tmp_path)}).conformance.windows == 3
    cfg = tmp_path / "upir.toml"
    cfg.write_text("[conformance]\nwindows = 5\n")
    assert load_settings({}, cfg).conformance.windows == 5
    env = {"UPIR_CONFORMANCE_WINDOWS": "1"}
    assert load_settings(env, cfg).conformance.windows == 1
    with pytest.raises(SettingsError, match="UPIR_CONFORMANCE_WINDOWS must be between 1 and"):
        load_settings({"HOME": str(tmp_path), "UPIR_CONFORMANCE_WINDOWS": "0"})
    cfg.write_text("[conformance]\nwindows = 0\n")
    with pytest.raises(SettingsError, match="conformance.windows must be between"):
        load_settings({}, cfg)
