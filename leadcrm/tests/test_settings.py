"""Production settings: fail closed, and `manage.py check --deploy` is clean."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-key-that-is-long-and-random-enough-0123456789abcdefghij",
    "ALLOWED_HOSTS": "crm.example.org",
    "IGNORE_DOTENV": "true",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    ours = {*PRODUCTION, "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in ours}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_mistyped_boolean_fails_at_start_up():
    result = manage("check", **{**PRODUCTION, "DEBUG": "ture"})
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_a_mistyped_number_fails_at_start_up():
    result = manage("check", **{**PRODUCTION, "LEAD_SWEEP_SECONDS": "soon"})
    assert result.returncode != 0


def test_speed_to_lead_hours_below_one_fail_at_start_up():
    result = manage("check", **{**PRODUCTION, "LEAD_FIRST_CONTACT_HOURS": "0"})
    assert result.returncode != 0
    assert "LEAD_FIRST_CONTACT_HOURS must be at least 1, not 0" in result.stderr
