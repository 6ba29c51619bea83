"""JupyterLab, where users explore the notebooks: a real server on 127.0.0.1 (a free port, a token) lists the
notebooks through its REST API, starts a kernel that imports maskcl, and shuts down — nothing left running."""
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("jupyterlab", reason="JupyterLab is in the notebooks extra")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, token: str, method: str = "GET", body: dict | None = None):
    req = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"},
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


def test_jupyterlab_lists_the_notebooks_and_runs_maskcl_in_a_kernel(tmp_path):
    from jupyter_client import BlockingKernelClient

    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}", "--ServerApp.port_retries=0", "--allow-root"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                call(f"{base}/api/status", token)
                break
            except OSError:
                assert server.poll() is None, "the JupyterLab server exited"
                assert time.time() < deadline, "JupyterLab did not answer within 60 s"
                time.sleep(0.3)
        with urllib.request.urlopen(urllib.request.Request(f"{base}/lab", headers={"Authorization": f"token {token}"}),
                                    timeout=10) as page:
            assert b"JupyterLab" in page.read()
        listed = {c["name"] for c in call(f"{base}/api/contents/notebooks", token)["content"]}
        assert {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} <= listed
        kernel = call(f"{base}/api/kernels", token, "POST", {"name": "python3"})
        out = []
        client = BlockingKernelClient()
        client.load_connection_file(str(tmp_path / "runtime" / f"kernel-{kernel['id']}.json"))
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            reply = client.execute_interactive("import maskcl.runs; print(maskcl.runs.PROFILES)", timeout=60,
                                               output_hook=lambda msg: out.append(msg))
        finally:
            client.stop_channels()
        assert reply["content"]["status"] == "ok"
        text = "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")
        assert "('smoke', 'quick', 'paper')" in text
        call(f"{base}/api/kernels/{kernel['id']}", token, "DELETE")
        assert call(f"{base}/api/kernels", token) == []
        call(f"{base}/api/shutdown", token, "POST")
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode is not None



def test_library_progress_bars_show_unless_silenced(monkeypatch):
    """In JupyterLab (MASKCL_PROGRESS unset) the library's tqdm bars are on; tests and headless runs set it to 0."""
    from maskcl.progress import bar

    monkeypatch.delenv("MASKCL_PROGRESS", raising=False)
    assert not bar(range(3)).disable
    monkeypatch.setenv("MASKCL_PROGRESS", "0")
    assert bar(range(3)).disable
