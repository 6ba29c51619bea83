"""One seaborn style, figure saving (PNG + CSV of the plotted numbers + provenance JSON), and the
paper-vs-ours table with a tolerance verdict."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .paths import figures_dir
from .store import write_json


def style() -> None:
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")


def colours(names) -> dict:
    """One colour per name (the colorblind palette, in order of first appearance), so that a method's paper
    reference can be drawn in its method's colour."""
    import seaborn as sns

    names = list(dict.fromkeys(names))
    return dict(zip(names, sns.color_palette("colorblind", max(len(names), 1))))


def paper_line(ax, x, y, colour, label: str, marker: str | None = None) -> None:
    """A paper reference curve: dashed, lighter, in the colour of its method, with the legend entry
    'paper: <label>'."""
    ax.plot(x, y, ls="--", lw=1.3, color=colour, alpha=0.6, marker=marker, ms=4, label=f"paper: {label}")


def method_lines(ax, data: pd.DataFrame, x: str, y: str, colour: dict) -> None:
    """One line per method in its colour, with markers of different shapes that shrink from method to method, so
    curves that coincide (e.g. GNu at 100 % task inference and GG) stay visible."""
    for i, (m, d) in enumerate(data.groupby("method")):
        ax.plot(d[x], d[y], marker="os^Dv<"[i % 6], ms=max(11 - 1.3 * i, 3), color=colour[m], label=m)


def paper_level(ax, y, colour, label: str) -> None:
    """A paper reference that is one number (a table's average): a dashed horizontal line in its method's colour,
    with the legend entry 'paper: <label>'."""
    ax.axhline(y, ls="--", lw=1.1, color=colour, alpha=0.6, label=f"paper: {label}")


def integer_ticks(ax, axis: str = "x") -> None:
    """Only whole numbers on an axis of counts (tasks, epochs)."""
    from matplotlib.ticker import MaxNLocator

    getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True))


def key_legend(ax, entries: dict, **kwargs) -> None:
    """A legend from proxies: {label: dict of Line2D properties}, e.g. {"s = 25": dict(color=c), "H": dict(ls="--")}
    — for figures where colour, line style and marker each encode one thing."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], **{"color": "0.2", **props}) for props in entries.values()]
    ax.legend(handles, list(entries), **{"fontsize": 8, **kwargs})


def save_figure(fig, name: str, data: pd.DataFrame, provenance: dict, out: Path | None = None) -> Path:
    """Write <name>.png, <name>.csv (exactly the plotted numbers) and <name>.json (profile, seeds, device,
    wall time of the runs behind it) to the figures folder; returns the PNG path."""
    out = Path(out or figures_dir())
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{name}.png"
    fig.savefig(png, dpi=130, bbox_inches="tight")
    data.to_csv(out / f"{name}.csv", index=False, float_format="%.4f")
    write_json(out / f"{name}.json", provenance)
    return png


def paper_vs_ours(ours: pd.DataFrame, paper: pd.DataFrame, on: list[str], tol: float = 0.5,
                  keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Join our rows to the paper's on `on` (+ tasks) and add delta = ours − paper and |delta| ≤ tol; our columns
    `keep` (e.g. the profile that made a row) are carried along.

    Where we ran fewer tasks than any paper column, the paper's first column (its fewest tasks) is the
    reference and `paper_tasks` says so."""
    rows = []
    for _, r in ours.iterrows():
        ref = paper
        for c in on:
            ref = ref[ref[c].isna()] if pd.isna(r[c]) else ref[ref[c] == r[c]]
        if ref.empty:
            continue
        same = ref[ref["tasks"] == r["tasks"]]
        ref_row = (same if not same.empty else ref.sort_values("tasks")).iloc[0]
        rows.append({**{c: r[c] for c in (*on, *keep)}, "source": ref_row["source"],
                     "paper_tasks": int(ref_row["tasks"]), "paper": ref_row["accuracy"], "tasks": int(r["tasks"]),
                     "ours": round(r["accuracy"], 2)})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["delta"] = (table["ours"] - table["paper"]).round(2)
    table[f"within ±{tol}"] = table["delta"].abs() <= tol
    return table


def profiles_of(results: list[dict]) -> str:
    """The profile(s) that made these results, for a figure's title: 'paper', or 'paper/quick' when mixed."""
    return "/".join(sorted({r["provenance"]["profile"] for r in results}))


def provenance_of(results: list[dict]) -> dict:
    """The provenance of a figure: every run's key, config and provenance, plus summed wall time."""
    runs = [{"key": r["key"], "experiment": r["experiment"], "method_version": r.get("method_version"),
             "config": r["config"], **r["provenance"]}
            for r in results]
    return {"profiles": sorted({r["profile"] for r in runs}), "devices": sorted({r["device"] for r in runs}),
            "seeds": sorted({r["config"]["seed"] for r in runs}),
            "wall_s_total": round(sum(r["wall_s"] for r in runs), 1), "runs": runs}
