import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("args, message", [
    (["--profile", "fast"], "unknown profile 'fast'"),
    (["--device", "tpu"], "unknown device 'tpu'"),
    (["--frobnicate"], "unknown option '--frobnicate'"),
])
def test_bad_arguments_are_usage_errors(args, message):
    out = subprocess.run(["bash", str(ROOT / "reproduce.sh"), *args], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and message in out.stderr


def test_unknown_notebook_prefix_is_an_error():
    out = subprocess.run(["bash", str(ROOT / "reproduce.sh"), "--no-setup", "--only", "99_nothing"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "no notebook matches" in out.stderr


def test_gpu_run_needs_out_before_installing_anything():
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    out = subprocess.run(["bash", str(ROOT / "tools" / "gpu_run.sh"), "--only", "05"], capture_output=True,
                         text=True, timeout=30, env=env)
    assert out.returncode != 0 and "set OUT" in out.stderr
