import json

import matplotlib
import pandas as pd

from maskcl import paper
from maskcl.plots import paper_vs_ours, save_figure


def test_paper_vs_ours_delta_and_verdict():
    ref = pd.DataFrame(paper.reference_rows())
    ours = pd.DataFrame([
        {"method": "SupSup (GNu H)", "arch": "lenet", "out_size": 100, "tasks": 10, "accuracy": 93.2},
        {"method": "SupSup (GNu H)", "arch": "lenet", "out_size": 100, "tasks": 3, "accuracy": 90.0},
        {"method": "Upper Bound", "arch": "fc", "out_size": None, "tasks": 50, "accuracy": 96.0},
        {"method": "SupSup (GNu H)", "arch": "lenet", "out_size": 25, "tasks": 10, "accuracy": 50.0},
    ])
    t = paper_vs_ours(ours, ref, on=["method", "arch", "out_size"], tol=0.5)
    assert len(t) == 3  # s = 25 is not in the Fig. 3 reference
    assert t.iloc[0][["paper", "ours", "delta", "within ±0.5"]].tolist() == [93.65, 93.2, -0.45, True]
    assert t.iloc[1][["paper_tasks", "tasks", "within ±0.5"]].tolist() == [10, 3, False]
    assert t.iloc[2][["source", "paper", "delta"]].tolist() == ["Tab 4", 96.70, -0.7]


def test_paper_averages_match_their_rows():
    for key, avg in paper.SUPSUP_AVERAGES.items():
        row = paper.SUPSUP[key]
        assert abs(sum(row.values()) / len(row) - avg) < 0.011, key


def test_save_figure_writes_png_csv_and_provenance(tmp_path):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    data = pd.DataFrame({"x": [1, 2], "y": [3, 4]})
    png = save_figure(fig, "demo", data, {"profiles": ["smoke"]}, out=tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pd.read_csv(tmp_path / "demo.csv").equals(data)
    assert json.loads((tmp_path / "demo.json").read_text()) == {"profiles": ["smoke"]}


def test_a_paper_line_has_its_methods_colour_and_a_legend_entry():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from maskcl.plots import colours, paper_line

    c = colours(["SupSup (GNu H)", "Upper Bound", "SupSup (GNu H)"])
    assert list(c) == ["SupSup (GNu H)", "Upper Bound"] and c["SupSup (GNu H)"] != c["Upper Bound"]
    fig, ax = plt.subplots()
    ax.plot([10, 50], [90, 89], color=c["Upper Bound"], label="Upper Bound")
    paper_line(ax, [10, 50], [91, 90], c["Upper Bound"], "Upper Bound [Fig 3]")
    ours, ref = ax.get_lines()
    assert ref.get_color() == ours.get_color() and ref.get_linestyle() == "--" and ref.get_alpha() < 1
    assert [t.get_text() for t in ax.legend().get_texts()] == ["Upper Bound", "paper: Upper Bound [Fig 3]"]
    plt.close(fig)


def test_readme_gallery_names_each_figures_profiles():
    """The README gallery's profile column says the profile(s) recorded in each figure's provenance, and no other."""
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    rows = re.findall(r"^\| !\[\]\(figures/(\w+)\.png\) \| `\w+` \| ([^|]+) \|", (root / "README.md").read_text(), re.M)
    assert len(rows) == len(list((root / "figures").glob("*.png")))
    for name, column in rows:
        recorded = set(json.loads((root / "figures" / f"{name}.json").read_text())["profiles"])
        said = set(re.findall(r"\b(smoke|quick|paper)\b", column))
        assert said == recorded, f"{name}: README says {sorted(said)}, provenance {sorted(recorded)}"
