"""environment.yml (conda) and pyproject.toml (pip) must describe the same environment."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_reqs = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.strip() == "- pip:")
    conda_reqs = [l.strip()[2:] for l in lines[start + 1:] if l.strip().startswith("- ") and l.strip() != "- -e ."]
    assert sorted(map(str.strip, conda_reqs)) == sorted(map(str.strip, pip_reqs))
    assert {_name(r) for r in conda_reqs} == {_name(r) for r in pip_reqs}


def test_dependency_floor_admits_the_gpu_image():
    """The lent H200 has torch 2.11 / torchvision 0.26: no floor may exceed them."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floors = {_name(d): tuple(int(x) for x in d.split(">=")[1].split(".")) for d in deps if ">=" in d}
    assert floors["torch"] <= (2, 11) and floors["torchvision"] <= (0, 26)
