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
OTHER_TOOLS = {"--dist", "--no-deps", "--no-index", "--no-build-isolation", "--only-binary", "--platform",
               "--python-version", "--target", "--head", "--address", "--node-ip-address", "--num-cpus",
               "--resources", "--include-dashboard", "--labels", "--dtype"}
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
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.DOTALL))
    return [line for block in blocks for line in block.splitlines()] + inline


def test_readme_is_a_front_page_with_the_two_command_quick_start():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300, "README.md is over 300 lines: move the reference into docs/"
    quick = re.search(r"^## Quick start\n\n```bash\n(.*?)```", text, re.DOTALL | re.MULTILINE)
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
                declared = scripts.get(script[1])
                if declared is None:
                    problems.append(f"{page.name}: benchmarks/{script[1]} does not exist")
                    continue
                problems += [f"{page.name}: benchmarks/{script[1]} has no option {f}" for f in FLAG.findall(span)
                             if f not in declared | {"--help"}]
        for flag in set(FLAG.findall(text)) - every - set().union(*scripts.values()) - OTHER_TOOLS:
            problems.append(f"{page.name}: {flag} is no option of bench or of a benchmark script")
    assert not problems, "\n".join(problems)


def test_every_test_the_docs_name_exists():
    """The error table and the pages name the tests that hold each claim: a renamed test must be renamed there."""
    defined = set()
    for path in (ROOT / "tests").glob("*.py"):
        defined.update(re.findall(r"^\s*def (test_\w+)", path.read_text(), re.MULTILINE))
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


def test_the_commands_synopsis_lists_every_command_and_every_option():
    """docs/commands.md's synopsis block: each `bench` command has an entry naming all its visible options and no
    other (`[...]` after tune and audit stands for `bench run`'s options, so those entries name only their own)."""
    from bench.cli import cli

    text = (ROOT / "docs" / "commands.md").read_text()
    block = re.search(r"^```\n(bench run.*?)^```", text, re.DOTALL | re.MULTILINE)[1]
    entries = dict(re.findall(r"^bench (\w+)(.*?)(?=^bench |\Z)", block, re.DOTALL | re.MULTILINE))
    run = {o for p in cli.get_command(None, "run").params for o in p.opts}
    problems = []
    for name in cli.list_commands(None):
        params = [p for p in cli.get_command(None, name).params if not getattr(p, "hidden", False)]
        own = {o for p in params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}
        if name not in entries:
            problems.append(f"bench {name} has no entry")
            continue
        named = set(FLAG.findall(entries[name]))
        shared = run if "[...]" in entries[name] else set()
        problems += [f"bench {name}: {flag} missing" for flag in sorted(own - shared - named - {"--help"})]
        problems += [f"bench {name}: {flag} is not its option" for flag in sorted(named - own - {"--help"})]
    assert not problems, "docs/commands.md's synopsis is stale:\n" + "\n".join(problems)


def test_the_error_tables_lists_of_backends_and_scenarios_are_the_registries():
    """docs/errors.md quotes the messages that list every backend and scenario: a new one must appear there."""
    from bench import backends, scenarios

    text = (ROOT / "docs" / "errors.md").read_text()
    listed = re.search(r"`unknown backend 'nosuch': choose one of ([^`]+)`", text)[1].split(", ")
    assert listed == [n for n in backends.REGISTRY if n not in backends.HIDDEN], "errors.md: unknown backend row"
    quoted = re.search(r"`Invalid value for '--scenario': 'nosuch' is not one of ([^`]+)\.`", text)[1]
    assert re.findall(r"'([\w-]+)'", quoted) == list(scenarios.NAMES), "errors.md: unknown scenario row"


def test_the_exit_codes_the_docs_list_are_the_codes_bench_uses():
    import signal

    from bench import errors
    from bench.system import signals

    codes = {0, errors.EXIT_FAILED, errors.EXIT_USAGE, errors.EXIT_STRICT, errors.EXIT_INTERRUPTED}
    ended = {128 + s for s in signals.HANDLED} | {128 + signal.SIGINT}
    intro = (ROOT / "docs" / "errors.md").read_text().split("\n\n")[1]
    assert {int(c) for c in re.findall(r"\*\*(\d+)\*\*", intro)} == codes | ended, "docs/errors.md's exit codes"
    commands_md = (ROOT / "docs" / "commands.md").read_text()
    line = re.search(r"^Exit codes: (.*?)(?:\n\n|\Z)", commands_md, re.MULTILINE | re.DOTALL)[1]
    assert {int(c) for c in re.findall(r"(?<![\w-])(\d+) ", line)} == codes, "docs/commands.md's exit codes"


def test_design_md_adding_a_report_column_in_its_two_steps(tmp_path, monkeypatch):
    """docs/design.md's recipe, followed on a copy of bench/record/schema.py: (1) one dataclass field in its section,
    which the strict reader, the writer and the generated field table then know; (2) one Column that reads it."""
    import importlib.util
    import json
    import sys

    from bench.record import codec, fields_doc
    from bench.report import columns, table

    recipe = re.search(r"## Adding a report column\n\n(.*?)\n\n(?=Held by)", (ROOT / "docs" / "design.md").read_text(),
                       re.DOTALL)[1]
    assert len(re.findall(r"^\d\. ", recipe, re.MULTILINE)) == 2, "the recipe's steps changed: change this test too"
    source = (ROOT / "bench" / "record" / "schema.py").read_text()
    anchor = "    warmup_batch_sizes: list[int] | None = later()\n"
    assert anchor in source, "Timing's last field moved: pick another anchor"
    (tmp_path / "schema.py").write_text(source.replace(anchor, anchor + '    gc_s: float | None = later("GC")\n'))
    spec = importlib.util.spec_from_file_location("bench.record.schema", tmp_path / "schema.py")
    edited = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench.record.schema", edited)  # dataclass type hints resolve in it
    spec.loader.exec_module(edited)

    record = json.loads((ROOT / "tests" / "data" / "records" / "offline.json").read_text())
    record["timing"]["gc_s"] = 0.25
    read = codec.parse(edited.Record, record)  # step 1: the strict reader takes it as a declared field
    assert read.timing.gc_s == 0.25 and json.loads(codec.dumps(read))["timing"]["gc_s"] == 0.25
    monkeypatch.setattr(fields_doc, "schema", edited)
    assert "| `timing.gc_s` | a number or null | GC; written once set |" in fields_doc.table()

    new = columns.Column("gc_s", ("timing.gc_s",), heading="GC s", unit="s", format="number")  # step 2
    monkeypatch.setattr(columns, "COLUMNS", [*columns.COLUMNS, new])
    df = table.frame([(tmp_path, record)])
    assert df["gc_s"].iloc[0] == 0.25 and "gc_s" in df.to_csv(index=False).splitlines()[0]


def test_the_readmes_install_extras_are_pyprojects():
    """README's Install paragraph names every pip extra, and only those pyproject.toml declares."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    install = re.search(r"^## Install\n\n(.*?)\n\n", (ROOT / "README.md").read_text(), re.DOTALL | re.MULTILINE)[1]
    named = set(re.findall(r"`([a-z0-9-]+)`", install.split("`bench --help`")[0]))
    assert sorted(named) == sorted(extras), "README's Install paragraph and pyproject's extras differ"
