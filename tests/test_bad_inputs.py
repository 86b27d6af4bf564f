"""Bad configs and command lines: one line naming the field and the fix, exit code 2, nothing written.

The table is ``scripts/bad_inputs.py``'s CASES (docs/reliability.md prints it)."""
import importlib.util
from pathlib import Path

import pytest

from rlvr.world import shipped_base_path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("bad_inputs", ROOT / "scripts" / "bad_inputs.py")
bad = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bad)

pytestmark = pytest.mark.skipif(not (shipped_base_path() / "config.json").exists(), reason="no shipped base")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    bad.prepare(d)
    return d


def snapshot(d: Path) -> dict:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_the_table_has_at_least_twenty_cases():
    assert len(bad.CASES) >= 20
    assert len({c[0] for c in bad.CASES}) == len(bad.CASES)


@pytest.mark.parametrize("what,command,expected", bad.CASES, ids=[c[0] for c in bad.CASES])
def test_bad_input(what, command, expected, files, tmp_path):
    out = tmp_path / "run"
    before = snapshot(files)
    rc, err = bad.run_case(bad.argv_of(command, out, files))
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"rlvr {command.split()[0]}: error: ")
    assert expected.format(d=files, out=out) in lines[0]
    assert not out.exists()                            # nothing half-written
    assert snapshot(files) == before                   # an existing run untouched
