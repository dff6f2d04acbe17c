"""The layout the project was designed with (bench/, backends/, scenarios/ at the top) installs as one import name,
`bench`: backends and scenarios are bench.backends and bench.scenarios (bench/backends and bench/scenarios link
to the top-level folders), so a user's environment gains no generic top-level module names."""

from __future__ import annotations

import ast
import re
import tomllib

from tests.conftest import ROOT


def test_only_bench_is_installed_as_a_top_level_package():
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert find["include"] == ["bench", "bench.*"]
    for name in ("backends", "scenarios"):
        link = ROOT / "bench" / name
        assert link.is_symlink() and link.resolve() == (ROOT / name).resolve(), f"bench/{name} -> ../{name}"


def test_nothing_imports_backends_or_scenarios_as_top_level_names():
    """One module, one name: importing `backends.x` beside `bench.backends.x` would load it twice (two Backend
    classes, two registries), and a patch of "backends.x.NAME" would change the copy nobody runs."""
    found = []
    for folder in ("bench", "backends", "scenarios", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if folder == "bench" and path.relative_to(ROOT / "bench").parts[0] in ("backends", "scenarios"):
                continue  # the links: the same files, seen once under their own folders
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
                if isinstance(node, ast.Constant) and isinstance(node.value, str):  # "backends.x:Class", patch targets
                    names = [node.value] if re.match(r"(backends|scenarios)\.[a-z_]", node.value) else []
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                          if n.split(".")[0] in ("backends", "scenarios")]
    assert not found, "import bench.backends / bench.scenarios instead:\n" + "\n".join(found)
