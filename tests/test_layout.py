"""The house rules, checked on the code: the library never imports the world; files and functions stay small."""
import ast
from pathlib import Path

RLVR = Path(__file__).resolve().parent.parent / "rlvr"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# Stated exceptions, each with its reason.
LONG_FUNCTIONS = {
    "sandbox/runner.py:_program": "the sandbox's child program, one source string run in a fresh interpreter",
}


def _imports(path: Path, source: str | None = None) -> list[str]:
    """Every module the file at ``path`` (or ``source`` placed there) imports, relative imports made absolute."""
    tree = ast.parse(path.read_text() if source is None else source)
    package = ".".join(path.relative_to(RLVR.parent).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - (node.level - 1)] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out += [module] + [f"{module}.{a.name}" for a in node.names]
    return out


def test_the_generic_library_never_imports_the_world():
    offenders = {str(p.relative_to(RLVR.parent)): [m for m in _imports(p) if m == "rlvr.world" or m.startswith("rlvr.world.")]
                 for p in RLVR.rglob("*.py") if "world" not in p.relative_to(RLVR).parts}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_every_form_of_a_world_import():
    where = RLVR / "eval" / "some_module.py"
    for source in ("from ..world import corpus", "from ..world.corpus import documents", "import rlvr.world.demo",
                   "from rlvr import world", "def f():\n    from ..world import demo\n"):
        assert any(m == "rlvr.world" or m.startswith("rlvr.world.") for m in _imports(where, source)), source
    assert not any(m.startswith("rlvr.world") for m in _imports(where, "from ..tasks import world_model"))


def test_no_file_over_400_lines_and_no_function_over_60():
    long_files = {str(p.relative_to(RLVR)): n for p in RLVR.rglob("*.py")
                  if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES}
    long_functions = {}
    for p in RLVR.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES and f"{p.relative_to(RLVR)}:{node.name}" not in LONG_FUNCTIONS:
                    long_functions[f"{p.relative_to(RLVR)}:{node.name}"] = n
    assert long_files == {} and long_functions == {}
