"""tools/setup.sh: quiet when the install works, pip's error (not its configuration warnings) when it fails."""
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOISE = "WARNING: Location '/opt/wheels' is ignored: it is either a non-existing path or lacks a specific scheme."


def _setup_with_a_stand_in_pip(tmp_path, exit_code):
    """Run a copy of tools/setup.sh whose .venv/bin/python prints 141 lines of pip configuration warnings."""
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "setup.sh", tmp_path / "tools" / "setup.sh")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/usr/bin/env bash\n"
                      f"for i in $(seq 141); do echo \"{NOISE}\" >&2; done\n"
                      f"[ {exit_code} = 0 ] || echo 'ERROR: No matching distribution found for torch' >&2\n"
                      f"exit {exit_code}\n")
    python.chmod(0o755)
    return subprocess.run(["bash", str(tmp_path / "tools" / "setup.sh")], capture_output=True, text=True, timeout=30)


def test_a_working_install_prints_nothing(tmp_path):
    out = _setup_with_a_stand_in_pip(tmp_path, 0)
    assert out.returncode == 0 and out.stdout + out.stderr == ""
    assert (tmp_path / ".venv" / "setup.log").read_text().count(NOISE) == 141  # kept, for whoever needs it


def test_a_failed_install_shows_pips_error_without_the_noise(tmp_path):
    out = _setup_with_a_stand_in_pip(tmp_path, 1)
    assert out.returncode == 1 and "No matching distribution found for torch" in out.stderr
    assert NOISE not in out.stderr and ".venv/setup.log" in out.stderr
