"""`bench sweep PLAN`: one comparison matrix, on this machine or across a Ray cluster, merged into one report."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("sweep")
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--output", type=click.Path(file_okay=False),
              help="Results tree: <output>/<target>/<cell>/<run-id>/ [default: sweeps/<plan name>].")
@click.option("--resume", is_flag=True, help="Skip cells whose complete run is already in the tree (same config hash).")
@click.option("--retries", type=click.IntRange(0, 100), default=0, show_default=True,
              help="Run a failed cell again (elsewhere, with --ray) up to N more times.")
@click.option("--ray", "ray_address", metavar="auto|ADDRESS",
              help="Run cells as Ray tasks on the cluster at ADDRESS (host:port), one benchmark per node at a time.")
def sweep_cmd(plan, output, resume, retries, ray_address):
    """Run every cell of PLAN (TOML: a matrix of `bench run` options, targets) and report over the results.

    Without --ray, cells run here one at a time, each in a fresh process. See examples/sweep.toml.
    """
    from rich.live import Live
    from rich.markup import escape

    from bench.console import err, out
    from bench.sweep import plan as plans
    from bench.sweep import tree
    from bench.sweep.progress import Progress

    loaded = plans.load(plan, machine_bounds=not ray_address)  # Ray nodes check their own cores
    if resume and loaded.rule:
        from bench.errors import UsageError

        raise UsageError(f"{plan}: --resume with the plan's repeat rule: a cell's series cannot yet be continued "
                         "across sweeps. Run the plan again without --resume (into a new --output)")
    if ray_address:
        from bench.sweep import ray_executor

        ray = ray_executor.connect(ray_address)  # before anything is written: a bad address leaves no log
    output = Path(output or Path("sweeps") / Path(plan).stem)
    sweep = tree.Sweep(loaded, output, "ray" if ray_address else "local")
    progress = Progress(sweep, err)
    todo = []
    for cell in loaded.cells:
        done = tree.landed(output, cell) if resume else []
        if done:
            sweep.state(cell).update(status="resumed", path=str(done[-1].relative_to(output)))
        else:
            todo.append(cell)
    sweep.save()
    err.print(f"[bold]sweep[/] {sweep.id}: {len(loaded.cells) + len(loaded.skipped)} cells, {len(todo)} to run, "
              f"{len(loaded.cells) - len(todo)} already done, {len(loaded.skipped)} filtered; "
              f"log {escape(str(sweep.log_path))}", highlight=False)
    for entry in sweep.cells.values():
        if entry["status"] == "skipped":
            progress.event(entry, "skipped", entry["reason"])
    try:
        with Live(progress, console=err, refresh_per_second=2):
            from bench.sweep import local, rounds

            def execute(cells):  # one round (every cell, when the plan repeats none)
                if ray_address:
                    ray_executor.execute(sweep, cells, retries, progress, ray)
                else:
                    local.execute(sweep, cells, retries, progress)

            rounds.run(sweep, todo, loaded.rule, execute, progress)
        if not err.is_terminal:
            err.line()  # a log file gets the final table once, without its closing newline
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM or SIGHUP: the log says which, the exit is 128 + it
        from bench.system import signals

        signals.note_interrupt(exc)
        if not err.is_terminal:
            err.line()  # the progress table printed last has no closing newline in a log file
        sweep.log["error"] = signals.reason(exc)
        sweep.finish("interrupted", [])
        again = f" --ray {ray_address}" if ray_address else ""
        raise signals.Interrupted(f"{signals.reason(exc)}: finished cells are kept in {output}; `bench sweep {plan} "
                                  f"--output {output}{again} --resume` runs the rest", signals.exit_code()) from None
    except Exception:  # a fault of the sweep itself: its log says it ended, not `running` for ever
        try:
            sweep.finish("failed", [])
        except OSError:
            pass
        raise
    finally:
        if ray_address:
            ray.shutdown()
    summarise(sweep, output, out, err)


def summarise(sweep, output: Path, out, err) -> None:
    """Warnings, the report over the whole tree, the counts; exit 1 if a cell failed or could not be placed."""
    from collections import Counter

    from rich.markup import escape

    from bench import report
    from bench.sweep import tree

    warnings = tree.version_warnings(output)
    sweep.finish("complete", warnings)
    for line in warnings:
        err.print(f"[yellow]warning:[/] {escape(line)}", highlight=False)
    counts = Counter(entry["status"] for entry in sweep.cells.values())
    out.print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())), highlight=False)
    if any(output.glob(f"*/*/[!.]*/{tree.CELL_FILE}")):
        df, problems = report.write([output], output / "report")
        for line in problems:
            err.print(f"[yellow]skipped:[/] {line}", highlight=False, markup=False)
        out.print(f"report ({len(df)} runs): {output / 'report' / 'index.html'}", highlight=False, markup=False)
    out.print(f"sweep log: {sweep.log_path}", highlight=False, markup=False)
    if counts["failed"] or counts["unplaceable"]:
        sys.exit(1)
