"""A result records the code that made it: a change that alters what runs is detected, a comment is not."""
import json

from maskcl import fingerprint, runs
from maskcl.runs import StreamExperiment
from maskcl.train import TrainConfig

TINY = StreamExperiment(arch="lenet", out_size=10, n_tasks=2, checkpoints=(2,), train=TrainConfig(steps=20, batch=32),
                  test_limit=64, dataset="synthetic")


def test_comments_docstrings_and_layout_do_not_count_code_does(tmp_path):
    a, b, c, d = (tmp_path / f"{n}.py" for n in "abcd")
    a.write_text('"""Doc."""\ndef f(x):\n    """Twice."""\n    return 2 * x\n')
    b.write_text('"""Other doc."""\n# a comment\ndef f(x):  # trailing\n\n    return 2 * x\n')
    c.write_text('"""Doc."""\ndef f(x):\n    """Twice."""\n    return 3 * x\n')
    d.write_text('"""Doc."""\ndef f(x):\n    """Twice."""\n    return 2 * x\nDENSITY = 0.1\n')
    h = fingerprint.module_hash
    assert h(a) == h(b) and h(a) != h(c) and h(a) != h(d)


def test_a_method_fingerprint_covers_the_library_it_runs_through():
    files = fingerprint.of("maskcl.methods.exssnet", "maskcl.setups")
    for f in ("maskcl/methods/exssnet.py", "maskcl/loop.py", "maskcl/train.py", "maskcl/masks.py",
              "maskcl/nets/resnet.py", "maskcl/data/streams.py", "maskcl/setups.py"):
        assert f in files, f
    assert "maskcl/methods/supsup.py" not in files  # another method's change does not touch ExSSNeT's results


def test_results_made_by_changed_code_are_stale(tmp_path):
    res = runs.run(TINY, device="cpu", results=tmp_path / "r", cache=tmp_path / "c")
    assert "maskcl/methods/supsup.py" in res["code"] and runs.stale(tmp_path / "r") == []
    path = tmp_path / "r" / "supsup" / f"{res['key']}.json"
    path.write_text(json.dumps({**res, "code": {**res["code"], "maskcl/methods/supsup.py": "0" * 12}}))
    assert runs.stale(tmp_path / "r") == [f"{path}: made by code that has since changed: maskcl/methods/supsup.py"]


def test_a_checkpoint_of_other_code_is_moved_aside_not_resumed(tmp_path):
    fresh = runs.run(TINY, device="cpu", results=tmp_path / "r1", cache=tmp_path / "c1")
    ckpt = tmp_path / "c2" / "ckpt" / runs.key(TINY)
    ckpt.mkdir(parents=True)
    (ckpt / "code.json").write_text(json.dumps({"maskcl/train.py": "0" * 12}))
    (ckpt / "masks").mkdir()
    (ckpt / "masks" / "progress.json").write_text("{not json")  # would fail if it were read
    res = runs.run(TINY, device="cpu", results=tmp_path / "r2", cache=tmp_path / "c2")
    assert res["per_task"] == fresh["per_task"]
    aside = [p.name for p in ckpt.parent.iterdir() if p.name != ckpt.name]
    assert len(aside) == 1 and aside[0].startswith(f"{ckpt.name}.other-code")
