"""The two commands (Makefile): `make run` needs only Python; `make test` sets up the rest itself.

`make -n` prints what a target would do without doing it. The checks for system packages run for
real, with APT_GET pointing at a command that fails: installing is then impossible, as on a machine
where we are neither root nor allowed sudo.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")
FAILS = shutil.which("false")
# What would leak in from an outer make or the caller's shell and change what the targets do.
OUTER = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PORT", "CHROMIUM", "APT_GET")


def make(*args: str, cwd: Path = ROOT, path: str | None = None) -> subprocess.CompletedProcess:
    assert MAKE, "make is not installed (apt-get install make)"
    env = {key: value for key, value in os.environ.items() if key not in OUTER}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [MAKE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_make_run_installs_only_the_python_side_and_serves_on_8000():
    plan = make("-n", "run")

    assert plan.returncode == 0, plan.stderr
    assert "npm" not in plan.stdout and "node_modules" not in plan.stdout
    assert "chromium" not in plan.stdout.lower()
    assert "manage.py runserver 127.0.0.1:8000" in plan.stdout
    assert "manage.py pull_crf_leads --loop" in plan.stdout


def test_make_run_serves_on_the_port_asked_for():
    plan = make("-n", "run", "PORT=8100")

    assert plan.returncode == 0, plan.stderr
    assert "manage.py runserver 127.0.0.1:8100" in plan.stdout
    assert "8000" not in plan.stdout
    assert "npm" not in plan.stdout


def test_make_test_checks_for_chromium_and_node_before_installing_and_running(tmp_path):
    plan = make("-n", "test", f"CHROMIUM={tmp_path}/chromium")
    lines = plan.stdout.splitlines()

    assert plan.returncode == 0, plan.stderr
    assert lines[0].startswith(f'test -x "{tmp_path}/chromium" ||')
    assert any("command -v node" in line for line in lines)
    assert "-m pytest" in lines[-1]


def test_make_test_without_chromium_and_no_way_to_install_it_stops_with_one_sentence(tmp_path):
    # A copy of the Makefile alone: were the check to pass, nothing else could be installed or run.
    shutil.copy(ROOT / "Makefile", tmp_path)
    missing = tmp_path / "no-chromium-here"

    result = make("test", f"CHROMIUM={missing}", f"APT_GET={FAILS}", cwd=tmp_path)

    assert result.returncode != 0
    assert (
        f"Chromium is needed for the browser tests and is not at {missing}: install it"
        " (as root: apt-get install chromium) or set CHROMIUM to its path, then run make again."
    ) in result.stderr
    assert "-m pytest" not in result.stdout + result.stderr
    assert not (tmp_path / ".venv").exists()


def test_make_without_node_and_no_way_to_install_it_stops_with_one_sentence(tmp_path):
    # A PATH with only what the recipe itself runs: no node, no npm.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("id", "env", "sudo"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))

    result = make("node", f"APT_GET={FAILS}", path=str(bin_dir))

    assert result.returncode != 0
    assert (
        "Node.js and npm are needed for Azurite, the Azure Storage emulator the pull tests start:"
        " install them (as root: apt-get install nodejs npm), then run make again."
    ) in result.stderr


@pytest.mark.parametrize("target", ["test", "azurite"])
def test_the_targets_that_start_azurite_check_for_node(target):
    plan = make("-n", target)

    assert plan.returncode == 0, plan.stderr
    assert "command -v node" in plan.stdout
