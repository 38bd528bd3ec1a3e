"""The commands as a person runs them: each in a process of its own, on a new database. (In the
test process every module has long been imported; a task module nobody imported is only missing
in a fresh one.)"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(database: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CRS_", "CRF_", "CELERY_", "DATABASE_"))
    }
    env |= {
        "IGNORE_DOTENV": "true",
        "DEBUG": "true",
        "SECRET_KEY": "tests-only-not-a-secret",
        "DATABASE_URL": f"sqlite:///{database}",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_seed_demo_in_a_fresh_process_stores_leads_and_notifies_alerts(tmp_path):
    database = tmp_path / "db.sqlite3"
    assert manage(database, "migrate", "-v0").returncode == 0

    result = manage(database, "seed_demo", "--leads", "20", "--alerts", "15", "--seed", "3")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "NotRegistered" not in result.stderr
    with sqlite3.connect(database) as db:
        leads = db.execute("SELECT count(*) FROM leads_lead").fetchone()[0]
        alerts, done = db.execute(
            "SELECT count(*), count(processed_at) FROM alerts_alert"
        ).fetchone()
        roles = db.execute("SELECT count(*) FROM auth_group").fetchone()[0]
    assert (leads, alerts, done, roles) == (20, 15, 15, 2)  # notifications ran, in-process
