"""Test-wide environment, set before any notebook kernel starts: the smoke profile, no progress bars, CPU,
and every output (results, checkpoints, figures) in a temporary folder — tests never touch the repo's."""
import os
import tempfile

_tmp = tempfile.mkdtemp(prefix="maskcl-tests-")
os.environ.update({
    "MASKCL_PROFILE": "smoke",
    "MASKCL_PROGRESS": "0",
    "MASKCL_DEVICE": "cpu",
    "MASKCL_RESULTS": os.path.join(_tmp, "results"),
    "MASKCL_CACHE": os.path.join(_tmp, "cache"),
    "MASKCL_FIGURES": os.path.join(_tmp, "figures"),
})
