"""The README and docs/ are held against the code: every command, option, test, benchmark and link they name exists,
the README stays a short front page, and its quick start is the two commands a new user runs."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A dated log of GPU sessions, its commands and test names quoted as they ran then (the scripts have moved on).
LOGS = {"gpu-results.md"}
# Other tools' flags the pages quote in their own commands (pip, Ray, the GPU machine's wheel download).
OTHER_TOOLS = {"--no-deps", "--no-index", "--no-build-isolation", "--only-binary", "--platform", "--python-version",
               "--target", "--head", "--address", "--node-ip-address", "--num-cpus", "--resources",
               "--include-dashboard", "--labels", "--dtype"}
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9]*(?:-[a-z0-9]+)*)")


def commands() -> dict:
    """Each `bench` command -> its long flags, read from the click commands themselves."""
    from bench.cli import cli

    found = {}
    for name in cli.list_commands(None):
        command = cli.get_command(None, name)
        found[name] = {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}
    return found


def script_flags() -> dict[str, set[str]]:
    """Each benchmark script -> the flags its argument parser declares."""
    return {p.name: set(re.findall(r"""["'](--[a-z][a-z0-9-]*)["']""", p.read_text()))
            for p in (ROOT / "benchmarks").glob("*.py")}


def spans(text: str) -> list[str]:
    """Inline code spans and the lines of fenced blocks: where the pages spell commands."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.S))
    return [line for block in blocks for line in block.splitlines()] + inline


def test_readme_is_a_front_page_with_the_two_command_quick_start():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300, "README.md is over 300 lines: move the reference into docs/"
    quick = re.search(r"^## Quick start\n\n```bash\n(.*?)```", text, re.S | re.M)
    assert quick, "README.md has no '## Quick start' heading followed by one ```bash block"
    lines = [line for line in quick[1].splitlines() if line.strip()]
    assert len(lines) == 2 and "bench run" in lines[0] and "pytest" in lines[1], lines
    assert all(line.startswith("python3 -m venv .venv") for line in lines), "each command makes its own venv"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
        if re.match(r"[a-z]+://", target):
            continue
        assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_every_bench_command_and_option_spelled_in_the_docs_exists():
    """`bench CMD ... --flag` must be CMD's option; a flag named in prose must be some command's or a benchmark's."""
    known = commands()
    every = set().union(*known.values()) | {"--help", "--debug", "--version"}
    scripts = script_flags()
    problems = []
    for page in (p for p in PAGES if p.name not in LOGS):
        text = page.read_text()
        for span in spans(text):
            span = span.split("  #")[0]  # a shell comment after the command is prose
            words = span.split()
            if len(words) >= 2 and words[0] == "bench" and re.match(r"[a-z]", words[1]):
                command = words[1].rstrip(",.;:")
                if command not in known:
                    problems.append(f"{page.name}: `bench {command}` is not a command")
                    continue
                for flag in FLAG.findall(span):
                    if flag not in known[command] | {"--help", "--debug"}:
                        problems.append(f"{page.name}: `bench {command}` has no option {flag}")
            script = re.match(r"python3? benchmarks/(\w+\.py)", span)
            if script:
                if script[1] not in scripts:
                    problems.append(f"{page.name}: benchmarks/{script[1]} does not exist")
                    continue
                problems += [f"{page.name}: benchmarks/{script[1]} has no option {f}" for f in FLAG.findall(span)
                             if f not in scripts[script[1]] | {"--help"}]
        for flag in set(FLAG.findall(text)) - every - set().union(*scripts.values()) - OTHER_TOOLS:
            problems.append(f"{page.name}: {flag} is no option of bench or of a benchmark script")
    assert not problems, "\n".join(problems)


def test_every_test_the_docs_name_exists():
    """The error table and the pages name the tests that hold each claim: a renamed test must be renamed there."""
    defined = set()
    for path in (ROOT / "tests").glob("*.py"):
        defined.update(re.findall(r"^\s*def (test_\w+)", path.read_text(), re.M))
    files = {p.stem for p in (ROOT / "tests").glob("test_*.py")}
    missing = []
    for page in PAGES:
        if page.name in LOGS:
            continue
        for name, after in re.findall(r"\b(test_\w+)(\*|\.py|\.\.\.|\[)?", page.read_text()):
            if after == ".py" or (not after and name in files):
                assert name in files, f"{page.name} names tests/{name}.py, which does not exist"
            elif after in ("*", "..."):
                if not any(t.startswith(name) for t in defined):
                    missing.append(f"{page.name}: {name}{after}")
            elif name not in defined:
                missing.append(f"{page.name}: {name}")
    assert not missing, f"tests the docs name that do not exist: {missing}"


def test_every_source_path_the_docs_name_exists():
    """A module, test or script the pages point a reader to must be there (a move must update the page)."""
    missing = []
    for page in PAGES:
        if page.name in LOGS:
            continue
        for path in re.findall(r"\b((?:bench|backends|scenarios|tests|benchmarks|examples)/[\w/.-]*\w)", page.read_text()):
            if not (ROOT / path).exists() and not (ROOT / path).with_suffix(".py").exists():
                missing.append(f"{page.name}: {path}")
    assert not missing, "paths the docs name that do not exist:\n" + "\n".join(sorted(set(missing)))
