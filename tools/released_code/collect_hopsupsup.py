"""Collect the released SupSup code's HopSupSup runs (one log folder per seed, see hopsupsup.sh) into
reference/released_code_hopsupsup.json: per (seed, task) the accuracy with the trained mask given ("Current Val")
and with the Hopfield-recovered mask ("Adapt Val"), in %, plus the conditions of the run."""
import json
import platform
import re
import sys
from pathlib import Path

import torch

from maskcl.store import read_json, write_json

work, commit = Path(sys.argv[1]), sys.argv[2]
out = Path(__file__).resolve().parents[2] / "reference" / "released_code_hopsupsup.json"
walls = dict(line.split() for line in (work / "wall.txt").read_text().splitlines())
old = read_json(out) if out.exists() else {"rows": [], "wall_s": {}}
rows = {(r["seed"], r["task"]): r for r in old["rows"]}
for folder in sorted((work / "logs").glob("id=hopsupsup~try=*")):
    seed = int(re.search(r"seed=(\d+)", (folder / "settings.txt").read_text()).group(1))
    lines = (folder / "adapt_results.csv").read_text().splitlines()[1:]
    for task, line in enumerate(lines):
        given, recovered = (float(v) for v in line.split(",")[-2:])
        rows[(seed, task)] = {"seed": seed, "task": task, "accuracy_correct": round(100 * given, 2),
                              "accuracy_recovered": round(100 * recovered, 2)}
    old["wall_s"][str(seed)] = float(walls.get(str(seed), "nan"))
write_json(out, {
    "what": "RAIVNLab/supsup experiments/GNu/SplitMNIST/hopsupsup.py, run on CPU with only the device, data and log "
            "folders changed (and --workers 0)",
    "commit": commit, "device": "cpu", "torch": torch.__version__, "platform": platform.platform(),
    "rows": sorted(rows.values(), key=lambda r: (r["seed"], r["task"])), "wall_s": old["wall_s"]})
print(out)
