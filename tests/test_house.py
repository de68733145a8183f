"""The house rules of the program's code (issue #32), read from its source alone: a module does one
job (at most 400 lines), a function reads in one screen (at most 80 lines), no module imports,
directly or through others, a module that imports it, and a public class says what it is for.

Today's exceptions are listed by name with their length: the list may only shrink. An entry that no
longer breaks the rule fails too, so that it is taken off and cannot come back unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The twin is shipped to users too (`python -m twin.rehearse`), so it keeps the same rules.
PACKAGES = ("facts", "stack_config", "components", "providers", "twin")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80  # from the `def` line to the last line of the body, decorators aside

# Known to break the rules on the day this test was written (issue #32 shrinks both lists); the
# number is the length then, for the record: an entry may change until it is split, not be added.
KNOWN_LONG_MODULES: dict[str, int] = {}
KNOWN_LONG_FUNCTIONS: dict[str, int] = {}
# The packages whose every public class says what it is for (issue #32 item 5), and the classes
# known not to yet (modules others were editing that day): the list may only shrink.
DOCUMENTED_PACKAGES = ("stack_config", "providers", "facts", "components", "twin")
KNOWN_UNDOCUMENTED: set[str] = set()
# Module cycles, each as the sorted names of its modules (a strongly connected component).
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def modules() -> dict[str, Path]:
    """Every module of the program's packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every function, methods as Class.name, nested ones as outer.inner."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{prefix}{node.name}", node
            yield from functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def long_modules() -> dict[str, int]:
    lengths = {relative(path): len(path.read_text().splitlines()) for path in modules().values()}
    return {name: lines for name, lines in lengths.items() if lines > MAX_MODULE_LINES}


def long_functions() -> dict[str, int]:
    found = {}
    for path in modules().values():
        for name, node in functions(ast.parse(path.read_text())):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                found[f"{relative(path)}::{name}"] = lines
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The program's modules that `name` imports anywhere in it (also inside a function: a late import
    still closes a circle). Importing a package's submodule is an edge to that submodule alone."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    return {target for target in targets if target in known and target != name}


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.add(tuple(sorted(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_is_longer_than_400_lines_beyond_the_known_ones():
    found = long_modules()
    new = {k: v for k, v in found.items() if k not in KNOWN_LONG_MODULES}
    assert new == {}, f"over {MAX_MODULE_LINES} lines (split it by job): {new}"
    fixed = sorted(set(KNOWN_LONG_MODULES) - set(found))
    assert fixed == [], f"now within the rule: take it off KNOWN_LONG_MODULES: {fixed}"


def test_no_function_is_longer_than_80_lines_beyond_the_known_ones():
    found = long_functions()
    new = {k: v for k, v in found.items() if k not in KNOWN_LONG_FUNCTIONS}
    assert new == {}, f"over {MAX_FUNCTION_LINES} lines (name its phases as functions): {new}"
    fixed = sorted(set(KNOWN_LONG_FUNCTIONS) - set(found))
    assert fixed == [], f"now within the rule: take it off KNOWN_LONG_FUNCTIONS: {fixed}"


def test_no_import_cycle_beyond_the_known_ones():
    known = modules()
    found = cycles({name: imported(name, path, known) for name, path in known.items()})
    new = sorted(found - KNOWN_CYCLES)
    assert new == [], f"these modules import each other, directly or through others: {new}"
    assert sorted(KNOWN_CYCLES - found) == [], "the cycle is gone: take it off KNOWN_CYCLES"


def test_the_scans_find_nested_functions_relative_imports_and_cycles(tmp_path):
    tree = ast.parse("class C:\n    def m(self):\n        def inner():\n            pass\n")
    assert [name for name, _ in functions(tree)] == ["C.m", "C.m.inner"]
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    files = {
        "__init__.py": "",
        "a.py": "from . import b\nfrom .c import thing\n",
        "b.py": "def late():\n    from pkg.a import x\n",  # a late import still closes the circle
        "c.py": "import os\nfrom pkg import something\n",
    }
    for file, text in files.items():
        (pkg / file).write_text(text)
    known = {f"pkg.{file[:-3]}" if file != "__init__.py" else "pkg": pkg / file for file in files}
    graph = {name: imported(name, path, known) for name, path in known.items()}
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b", "pkg.c"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg"}}
    assert cycles(graph) == {("pkg.a", "pkg.b")}


def test_every_public_class_says_what_it_is_for():
    undocumented = [
        f"{relative(path)}::{node.name}"
        for name, path in modules().items()
        if name.split(".")[0] in DOCUMENTED_PACKAGES
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and not ast.get_docstring(node)
    ]
    new = [name for name in undocumented if name not in KNOWN_UNDOCUMENTED]
    assert new == [], f"say what it is for and what changes when it changes: {new}"
    fixed = sorted(KNOWN_UNDOCUMENTED - set(undocumented))
    assert fixed == [], f"now says what it is for: take it off KNOWN_UNDOCUMENTED: {fixed}"


# The classes a component is built from, whose every field says what it is for (as pulumi-eks does).
ARGS_SUFFIXES = ("Args", "Inputs", "Plan")


def undescribed_fields(source: str) -> list[str]:
    """Fields of an Args-like class (ARGS_SUFFIXES) with no comment of their own: on the line above
    the field, or at the end of its line."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ClassDef) and node.name.endswith(ARGS_SUFFIXES)):
            continue
        for field in node.body:
            if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name):
                above, line = lines[field.lineno - 2].strip(), lines[field.lineno - 1]
                if not above.startswith("#") and "  # " not in line:
                    found.append(f"{node.name}.{field.target.id}")
    return found


def test_every_args_field_of_a_component_says_what_it_is_for():
    undescribed = [
        f"{relative(path)}::{field}"
        for name, path in modules().items()
        if name.split(".")[0] == "components"
        for field in undescribed_fields(path.read_text())
    ]
    assert undescribed == [], f"say what it is for and what changes when it changes: {undescribed}"


def test_a_field_without_a_comment_of_its_own_is_found():
    source = """
class SiteArgs:
    # The region.
    region: str
    stack: str
    nodes: int  # how many
    tags: dict


class Helper:
    free: str
"""
    assert undescribed_fields(source) == ["SiteArgs.stack", "SiteArgs.tags"]


# The one module that may loop around a sleep: providers/clock.py's poll_until, the one wait (issue
# #32 item 4), which says how it is doing and ends by its deadline with an error naming what it saw.
WAIT_MODULE = "providers/clock.py"
WAITING_PACKAGES = ("facts", "stack_config", "components", "providers")


def sleeping_loops(source: str) -> list[int]:
    """The lines of `while` loops whose body calls a sleep (time.sleep, clock.sleep, a Deadline's
    sleep, a bare sleep): hand-written waits. A `for` over a fixed number of retries is not one: its
    bound is in its header."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.While):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Call):
                called = inner.func
                name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
                if name == "sleep":
                    found.append(node.lineno)
                    break
    return found


def test_no_wait_is_hand_written_outside_poll_until():
    found = {
        f"{relative(path)}:{line}"
        for name, path in modules().items()
        # The product's waits; the twin's scheduler and its emulator's serving loop are not waits on AWS.
        if name.split(".")[0] in WAITING_PACKAGES and relative(path) != WAIT_MODULE
        for line in sleeping_loops(path.read_text())
    }
    assert found == set(), f"a loop around a sleep: wait with providers.clock.poll_until instead: {sorted(found)}"


def test_a_loop_around_any_sleep_is_found_and_a_bounded_retry_is_not():
    source = """
import time
from providers import clock


def a(deadline):
    while not deadline.passed:
        deadline.sleep(1)


def b():
    while True:
        if ready():
            return
        time.sleep(1)


def c():
    while True:
        try:
            return go()
        except OSError:
            sleep(2)


def d():
    for attempt in range(5):
        clock.sleep(1)


def e(items):
    while items:
        items.pop()
"""
    assert sleeping_loops(source) == [7, 12, 19]
