from pathlib import Path

import pytest
from upir_operator.settings import OperatorSettings, load_operator_settings

from upir.errors import SettingsError


def test_defaults(tmp_path: Path) -> None:
    s = load_operator_settings({"HOME": str(tmp_path)})
    assert s == OperatorSettings()
    assert s.namespace is None and s.peering is None and s.metrics_port == 8080


def test_values_are_read_and_passed_to_the_library(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("x")
    s = load_operator_settings(
        {
            "HOME": str(tmp_path),
            "UPIR_NAMESPACE": "prod",
            "UPIR_SIGNING_KEY_FILE": str(key),
            "UPIR_METRICS_PORT": "0",
            "UPIR_PEERING": "upir",
            "UPIR_WORKERS": "4",
            "UPIR_Z3_TIMEOUT": "500",
            "UPIR_INCONCLUSIVE_RETRY_SECONDS": "5",
        }
    )
    assert s.inconclusive_retry_seconds == 5.0
    assert (s.namespace, s.signing_key_file, s.metrics_port, s.peering, s.workers) == (
        "prod",
        key,
        0,
        "upir",
        4,
    )
    assert s.library.solver.timeout_ms == 500


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("UPIR_METRICS_PORT", "http", "UPIR_METRICS_PORT must be an integer"),
        ("UPIR_WORKERS", "0", "UPIR_WORKERS must be between"),
        ("UPIR_RECHECK_SECONDS", "soon", "UPIR_RECHECK_SECONDS must be a number"),
        ("UPIR_INCONCLUSIVE_RETRY_SECONDS", "0", "UPIR_INCONCLUSIVE_RETRY_SECONDS must be between"),
        ("UPIR_SIGNING_KEY_FILE", "/nonexistent/key.pem", "UPIR_SIGNING_KEY_FILE"),
        ("UPIR_Z3_TIMEOUT", "-5", "UPIR_Z3_TIMEOUT"),
    ],
)
def test_bad_variables_name_themselves(tmp_path: Path, var: str, value: str, needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_operator_settings({"HOME": str(tmp_path), var: value})


def test_tuning_settings_are_read_into_the_one_tree(tmp_path: Path) -> None:
    s = load_operator_settings(
        {
            "HOME": str(tmp_path),
            "UPIR_TUNING_MODEL": "off",
            "UPIR_TUNING_ATTEMPTS": "3",
            "UPIR_TUNING_ROLLBACK_THRESHOLD": "0.3",
            "UPIR_TUNING_ROLLBACK_WINDOWS": "4",
            "UPIR_TUNING_MIN_THROUGHPUT": "2.5",
            "UPIR_TUNING_SEED": "7",
            "UPIR_MAX_METRIC_AGE": "60",
        }
    )
    t = s.tuning
    assert (t.model, t.attempts, t.seed) == (False, 3, 7)
    assert (t.rollback.enabled, t.rollback.threshold, t.rollback.windows) == (True, 0.3, 4)
    assert (t.hold.max_age_s, t.hold.min_throughput_rps) == (60.0, 2.5)
    off = load_operator_settings({"HOME": str(tmp_path), "UPIR_TUNING_ROLLBACK_THRESHOLD": "0"})
    assert not off.tuning.rollback.enabled
    assert load_operator_settings({"HOME": str(tmp_path)}).tuning.model is None  # auto


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("UPIR_TUNING_MODEL", "maybe"),
        ("UPIR_TUNING_ATTEMPTS", "0"),
        ("UPIR_TUNING_ATTEMPTS", "two"),
        ("UPIR_TUNING_ROLLBACK_THRESHOLD", "11"),
        ("UPIR_TUNING_ROLLBACK_WINDOWS", "0"),
        ("UPIR_TUNING_MIN_THROUGHPUT", "-1"),
        ("UPIR_TUNING_SEED", "-3"),
    ],
)
def test_bad_tuning_variable_is_named(tmp_path: Path, var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        load_operator_settings({"HOME": str(tmp_path), var: value})
