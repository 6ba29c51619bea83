"""Every notebook's coded exercise runs: papermill executes the notebook (smoke profile, see conftest.py) with the
exercise's parameter set, and the exercise cell shows the notebook's run next to the changed one.

These run before the notebooks' nbval pass (pytest collects tests/ first) in the same results store, so the
notebooks' own runs computed here are read back there: the extra cost is the changed runs and the kernels."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CASES = {  # notebook: (parameter, value, the field the exercise changes)
    "01": ("EXERCISE_STEPS", 10, "train.steps"), "02": ("EXERCISE_S", 10, "out_size"),
    "03": ("EXERCISE_GAMMA", 0.05, "gammas"), "04": ("EXERCISE_BATCHE_LR", 0.1, "batche.lr"),
    "05": ("EXERCISE_NNS_EPS", 0.5, "nns.eps"), "06": ("EXERCISE_RESTARTS", 3, "hop.restarts"),
    "07": ("EXERCISE_DENSITY", 0.3, "density"), "08": ("EXERCISE_K", 4, "sparsity"),
    "09": ("EXERCISE_DENSITY", 0.3, "density"), "10": ("EXERCISE_KKT_K", 3, "kkt_k"),
    "11": ("EXERCISE_LAM", 0.0, "lam"), "12": ("EXERCISE_K", 8, "sparsity"),
}


def test_every_notebook_has_a_coded_exercise_and_answers():
    answers = (NOTEBOOKS.parent / "docs" / "exercises.md").read_text()
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        nn = path.name[:2]
        assert nn in CASES, f"{path.name}: no exercise under test"
        text = path.read_text()
        assert f"{CASES[nn][0]} = None" in text, f"{path.name}: the exercise's parameter is not in its parameters cell"
        assert f'id="notebook-{nn}"' in answers, f"docs/exercises.md has no answers for notebook {nn}"


@pytest.mark.slow
@pytest.mark.parametrize("nn", sorted(CASES))
def test_exercise_runs(nn, tmp_path):
    papermill = pytest.importorskip("papermill")
    param, value, field = CASES[nn]
    path = next(NOTEBOOKS.glob(f"{nn}_*.ipynb"))
    out = tmp_path / path.name
    papermill.execute_notebook(str(path), str(out), parameters={param: value}, cwd=str(NOTEBOOKS),
                               progress_bar=False, kernel_name="python3")
    cells = json.loads(out.read_text())["cells"]
    plain = [o.get("data", {}).get("text/plain", "") for o in cells[-1].get("outputs", [])]
    shown = "".join("".join(t) if isinstance(t, list) else t for t in plain)
    assert "as in the notebook" in shown, f"{path.name}: the exercise cell shows no comparison:\n{shown[:500]}"
    assert re.search(rf"changed: {re.escape(field)}=\(?{re.escape(str(value))}", shown), shown[:500]
