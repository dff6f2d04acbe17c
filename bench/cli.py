"""The `bench` command line (click). Errors become one clear line and an exit code; --debug shows tracebacks."""

from __future__ import annotations

import json
import sys

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench import __version__
from bench.config import MODES, PRECISIONS, PROFILES, SCENARIOS, RunConfig
from bench.errors import EXIT_FAILED, EXIT_STRICT, BenchError

out = Console()
err = Console(stderr=True, soft_wrap=True)  # messages carry paths and commands: never break them


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
            if ctx.obj and ctx.obj.get("debug"):
                raise
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
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


@cli.command()
@click.option("--backend", default="torch", show_default=True, help="Backend name (see `bench backends`).")
@click.option("--scenario", type=click.Choice(SCENARIOS), default="offline", show_default=True)
@click.option("--model", default="resnet50", show_default=True, help="resnet18|34|50|101|152.")
@click.option("--weights", default="synthetic", show_default=True,
              help="Checkpoint (.pth/.safetensors, torchvision keys), or 'synthetic' for seeded random weights.")
@click.option("--onnx", type=click.Path(), help="Run this ONNX classifier as it is (ONNX backends only).")
@click.option("--dataset", default="synthetic", show_default=True,
              help="Directory holding val_map.txt and the images, or 'synthetic'.")
@click.option("--val-map", type=click.Path(), help="val_map.txt elsewhere than DATASET/val_map.txt.")
@click.option("--count", type=int, help="Use the first N samples of the dataset.")
@click.option("--preprocessing", help="Preprocessing profile: torchvision|torchvision-v2|mlperf (default: the model's).")
@click.option("--skip-bad", is_flag=True, help="Skip and count missing or undecodable images instead of stopping.")
@click.option("--accuracy-threshold", type=float, default=0.99, show_default=True,
              help="Accuracy PASSes at top-1 >= this fraction of the model's reference top-1.")
@click.option("--precision", type=click.Choice(PRECISIONS), default="fp32", show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu or cuda[:N].")
@click.option("--batch-size", type=int, default=8, show_default=True,
              help="Offline batch; Server's largest dynamic batch.")
@click.option("--threads", type=int, help="Inference threads (default: the backend's own choice).")
@click.option("--cuda-graphs", is_flag=True, help="torch on CUDA: replay a CUDA graph captured at the batch size.")
@click.option("--gpu-streams", type=click.IntRange(1, 64), help="torch/tensorrt on CUDA: concurrent streams (execution contexts).")
@click.option("--ort-provider", type=click.Choice(["cuda", "tensorrt"]),
              help="onnxruntime on CUDA: its CUDA or TensorRT execution provider (default cuda).")
@click.option("--compile-mode", help="torch-compile: torch.compile mode (default, reduce-overhead, max-autotune, ...).")
@click.option("--calibration", type=click.Path(),
              help="int8: a directory of calibration images, or an MLPerf calibration list (names under --dataset).")
@click.option("--null-image-size", type=click.IntRange(1, 4096),
              help="null backend: side of its synthetic images (default: the model's, 224); 1 times the harness "
                   "without the per-image copy (see README, Performance).")
@click.option("--mode", type=click.Choice(MODES), default="performance", show_default=True)
@click.option("--duration", "duration_s", type=float, help="Minimum timed duration in seconds (quick: 10).")
@click.option("--profile", type=click.Choice(PROFILES), default="quick", show_default=True,
              help="quick: short runs; mlperf: the official minimums (600 s, 24,576 Offline samples, ...).")
@click.option("--target-qps", type=float, help="Server arrival rate; Offline expected rate (default: from warm-up).")
@click.option("--latency-bound-ms", type=float,
              help="Server p99 latency bound [default: user.conf's target_latency, else MLPerf's 15 ms].")
@click.option("--max-wait-ms", type=float, default=2.0, show_default=True,
              help="Server: longest a sample waits for its batch to fill.")
@click.option("--user-conf", type=click.Path(), help="LoadGen user.conf (wins over the profile).")
@click.option("--output", default="results", show_default=True, type=click.Path(), help="Results tree.")
@click.option("--system-name", help="Name of this system in reports (default: host name).")
@click.option("--strict", is_flag=True, help="Exit 3 if LoadGen says INVALID or accuracy FAILs.")
@click.option("--json", "as_json", is_flag=True, help="Print the result record as JSON on stdout.")
def run(as_json, **options):
    """Run one benchmark through MLCommons LoadGen and write <output>/<run-id>/result.json."""
    from bench import harness, summary

    gpu_extra = {k: v for k in ("cuda_graphs", "gpu_streams", "ort_provider") if (v := options.pop(k))}
    null_image_size = options.pop("null_image_size")
    # Backend-specific options travel in RunConfig.extra (recorded with the config).
    extra = {k: v for k in ("compile_mode", "calibration") if (v := options.pop(k)) is not None}
    if "calibration" in extra:
        extra["calibration_dataset"] = options["dataset"]
    cfg = RunConfig(**options, extra=extra)
    if gpu_extra:  # GPU options travel in RunConfig.extra too
        cfg = cfg.replace(extra={**cfg.extra, **gpu_extra})
    if null_image_size is not None:  # the null backend's measuring option travels in RunConfig.extra too
        cfg = cfg.replace(extra={**cfg.extra, "null_image_size": null_image_size})
    try:
        record = harness.run(cfg, err)
    except harness.Interrupted as exc:
        err.print(f"[bold yellow]{escape(str(exc))}[/]")
        sys.stderr.flush()
        harness.interrupted_exit()
    if as_json:
        summary.print_verdicts(record, err)  # stdout is JSON: INVALID / FAIL still reach the terminal
        click.echo(json.dumps(record, indent=2, default=str))
    else:
        summary.print_run(record, out)
    if cfg.strict and not summary.passed(record):
        err.print(f"[bold red]--strict:[/] exit {EXIT_STRICT}: {'; '.join(summary.failures(record))}", highlight=False)
        sys.exit(EXIT_STRICT)


@cli.command("backends")
@click.option("--all", "show_all", is_flag=True, help="Include tools such as the null backend.")
def backends_cmd(show_all):
    """Which backends can run here: available or why not, version, devices."""
    import backends

    table = Table(title="backends")
    for column in ("backend", "available", "version", "devices", "precisions"):
        table.add_column(column)
    unavailable = []
    for name in backends.names(include_hidden=show_all):
        info = backends.probe(name)
        try:
            precisions = ", ".join(backends.backend_class(name).precisions)
        except BenchError:
            precisions = ""
        table.add_row(name, "[green]yes[/]" if info.available else "[red]no[/]", info.version,
                      ", ".join(info.devices), precisions)
        if not info.available:
            unavailable.append((name, info.reason))
    out.print(table)
    # Reasons go below the table, whole: they carry the install command, which must not be cut to fit a column.
    for name, reason in unavailable:
        out.print(f"[bold]{name}[/]: {escape(reason)}", highlight=False, soft_wrap=True)


@cli.command()
@click.option("--system-name", help="Name to record for this system.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def sysinfo(system_name, as_json):
    """What a result records about this machine."""
    from rich.markup import escape  # a system name such as "[red]x" is text, not markup

    from bench import sysinfo as si

    info = si.collect(system_name)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    table = Table(show_header=False, title="system")
    for key, value in info.items():
        table.add_row(key, escape(json.dumps(value) if isinstance(value, (list, dict)) else str(value)))
    out.print(table)


def main() -> None:
    try:
        cli.main(prog_name="bench", standalone_mode=True)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
