"""The `bench` command line (click). Errors become one clear line and an exit code; --debug shows tracebacks."""

from __future__ import annotations

import json
import os
import sys

import click
from rich.markup import escape
from rich.table import Table

from bench import __version__
from bench.config import command_line
from bench.console import err, out
from bench.errors import EXIT_FAILED, EXIT_STRICT, EXIT_USAGE, BenchError

# Commands that live in their own modules, imported only when used: "name": "module:function".
LAZY_COMMANDS: dict[str, str] = {
    "report": "bench.commands.report:report_cmd",
    "compare": "bench.commands.compare:compare_cmd",
    "tune": "bench.commands.tune:tune_cmd",
    "audit": "bench.commands.audit:audit_cmd",
    "submission": "bench.commands.submission:submission_cmd",
    "fetch": "bench.commands.fetch:fetch_cmd",
    "verify": "bench.commands.verify:verify_cmd",
    "sweep": "bench.commands.sweep:sweep_cmd",
    "history": "bench.commands.history:history_cmd",
    "serve": "bench.commands.serve:serve_cmd",
}


class BenchGroup(click.Group):
    """Turns BenchError into its exit code, and anything unexpected into exit 1 with one line."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS:
            import importlib

            module, _, attr = LAZY_COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            from bench.system import signals

            if isinstance(exc, signals.Interrupted):  # cleaned up and recorded: say so and leave (signals.py)
                err.print(f"[bold yellow]{escape(str(exc))}[/]", highlight=False)
                signals.leave()
            if ctx.obj and ctx.obj.get("debug"):
                raise
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            if getattr(exc, "leave_now", False):  # LoadGen threw: its teardown at exit may crash (bench/run/endings.py)
                sys.stdout.flush(), sys.stderr.flush()
                os._exit(exc.exit_code)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt as exc:  # no record of its own (preprocessing, fetch, verify, submission):
            from bench.system import signals

            # the unwinding removed the temporary files; the same ending as every other command

            signals.note_interrupt(exc)
            err.print(f"interrupted ({signals.reason(exc)})", highlight=False)
            signals.leave()
        except OSError as exc:  # a path the user can fix: one line naming it and the fix (bench/oserrors.py)
            if ctx.obj and ctx.obj.get("debug"):
                raise
            from bench import oserrors

            err.print(f"[bold red]error:[/] {escape(oserrors.describe(exc))}", highlight=False)
            ctx.exit(EXIT_USAGE)
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            err.print(f"[bold red]error:[/] {type(exc).__name__}: {escape(str(exc))} "
                      "(run with --debug for the traceback)", highlight=False)
            ctx.exit(EXIT_FAILED)


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bench")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx, debug):
    """MLPerf-style image-classification inference benchmark (LoadGen scenarios, pluggable backends)."""
    ctx.obj = {"debug": debug}
    # Help pages name the backends that honour each backend option: their declarations, read only when shown.
    ctx.meta[command_line.HONOURED_KEY] = _honoured


def _honoured() -> dict[str, tuple[str, ...]]:
    from bench.backends import honoured

    return honoured()


@cli.command()
@command_line.click_options()
@click.option("--json", "as_json", is_flag=True, help="Print the result record as JSON on stdout.")
@command_line.series_options
@click.option("--in-series", hidden=True, help="Set by `bench sweep`: this run's place in a cell's series (JSON).")
def run(as_json, repeat, until_stable, max_repeats, in_series, **options):
    """Run one benchmark through MLCommons LoadGen and write <output>/<run-id>/result.json."""
    from bench.commands import summary
    from bench.run import harness
    from bench.stats import repeats
    from bench.sweep import rounds

    cfg = command_line.run_config(options)
    try:
        records, stats, path = repeats.run_configuration(cfg, err, _indexed(harness.run), repeat, until_stable,
                                                         max_repeats, rounds.sweep_block(in_series))
    except harness.Interrupted as exc:
        err.print(f"[bold yellow]{escape(str(exc))}[/]")
        sys.stderr.flush()
        harness.interrupted_exit()
    record = records[-1]
    if as_json:
        for each in records:
            summary.print_verdicts(each, err)  # stdout is JSON: INVALID / FAIL still reach the terminal
        click.echo(json.dumps(stats if stats is not None else record, indent=2, default=str))
    elif stats is not None:
        from bench.stats import report as stats_report

        stats_report.print_summary(stats, path, out)
    else:
        summary.print_run(record, out)
    failed = [f for each in records for f in ([] if summary.passed(each) else summary.failures(each))]
    if cfg.strict and failed:
        err.print(f"[bold red]--strict:[/] exit {EXIT_STRICT}: {'; '.join(failed)}", highlight=False)
        sys.exit(EXIT_STRICT)


def _indexed(run_one):
    """run_one, then the run's row in the results tree's index (bench/index): concurrent runs keep it whole."""
    def run_and_index(cfg, console, annotate=None):
        record = run_one(cfg, console, annotate=annotate)
        from bench.index import store

        store.note_run(cfg.output, record.get("run_dir"), console)
        return record

    return run_and_index


@cli.command("backends")
@click.option("--all", "show_all", is_flag=True, help="Include tools such as the null backend.")
def backends_cmd(show_all):
    """Which backends can run here: available or why not, version, devices, and where each comes from."""
    from bench import backends
    from bench.backends.declared import precisions_listing

    table = Table(title="backends")
    found, ignored = backends.scan()
    listed = backends.names(include_hidden=show_all)
    table.add_column("backend", no_wrap=True, min_width=max(map(len, listed)))  # a name is never cut: it is typed
    for column in ("available", "version", "devices", "precisions here", "others need", "from"):
        table.add_column(column, overflow="fold")  # folded, never cut to "…": every word is something to act on
    unavailable = []
    for name in listed:
        info = backends.probe(name)  # never raises: a broken plugin is a row saying why, the others still listed
        try:  # what runs here (the devices it sees, this CPU's flags), and what needs another device or flag
            here, elsewhere = precisions_listing(backends.backend_class(name), info.devices)
        except BenchError:  # it cannot be imported or breaks the interface: the reason is printed below
            here, elsewhere = "", ""
        table.add_row(name, "[green]yes[/]" if info.available else "[red]no[/]", escape(info.version),
                      escape(", ".join(info.devices)), here, escape(elsewhere), escape(found[name].origin))
        if not info.available:
            unavailable.append((name, info.reason))
    out.print(table)
    # Reasons go below the table, whole: they carry the install command, which must not be cut to fit a column.
    for name, reason in unavailable:
        out.print(f"[bold]{escape(name)}[/]: {escape(reason)}", highlight=False, soft_wrap=True)
    for reason in ignored:  # a plugin that took a name already registered
        out.print(f"[yellow]ignored[/]: {escape(reason)}", highlight=False, soft_wrap=True)


@cli.command()
@click.option("--system-name", help="Name to record for this system.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def sysinfo(system_name, as_json):
    """What a result records about this machine."""
    from rich.markup import escape  # a system name such as "[red]x" is text, not markup

    from bench.system import sysinfo as si

    info = si.collect(system_name)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    table = Table(show_header=False, title="system")
    for key, value in info.items():
        table.add_row(key, escape(json.dumps(value) if isinstance(value, (list, dict)) else str(value)))
    out.print(table)


def main() -> None:
    from bench.system import signals

    signals.install()  # SIGTERM and SIGHUP stop a run as Ctrl-C does (bench/system/signals.py)
    try:
        cli.main(prog_name="bench", standalone_mode=True)
    except KeyboardInterrupt as exc:
        signals.note_interrupt(exc)
        err.print(f"interrupted ({signals.reason(exc)})", highlight=False)
        sys.exit(signals.exit_code())


if __name__ == "__main__":
    main()
