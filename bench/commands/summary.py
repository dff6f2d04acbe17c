"""The end-of-run summary in the terminal: the metric, VALID or INVALID with LoadGen's reason, accuracy."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from bench import scenarios

# LoadGen's reason -> what to change, most telling first. Matched on the reasons bench.record.loadgen_log spells out.
REASON_ADVICE = (
    ("latency bound missed", "lower --target-qps, raise --latency-bound-ms, or use a smaller --batch-size / "
                             "--max-wait-ms"),
    ("minimum duration not met", "give --target-qps near the real throughput (LoadGen issued too few samples to fill "
                                 "the duration), or a longer --duration"),
    ("minimum query count not met", "give a longer --duration, or a smaller min_query_count in --user-conf"),
    ("early stopping not met", "give a longer --duration (more queries), or a lower --target-qps"),
)


def advice(record: dict) -> str:
    """What to change for an INVALID run: from LoadGen's reasons, else the scenario's usual fix."""
    reasons = " ".join(record["performance"].get("invalid_reasons") or [])
    # The first match only: a missed latency bound also fails early stopping, and more queries would not help.
    scenario = record["config"]["scenario"]
    usual = scenarios.get(scenario).advice if scenario in scenarios.SCENARIOS else "see LoadGen's summary log"
    return next((fix for reason, fix in REASON_ADVICE if reason in reasons), usual)


def failures(record: dict) -> list[str]:
    """Why --strict exits 3: LoadGen INVALID, accuracy FAIL (empty when the run passed)."""
    perf, acc = record.get("performance"), record.get("accuracy")
    found = []
    if perf and not perf.get("valid"):
        found.append("LoadGen judged the run INVALID")
    if acc and acc.get("passed") is False:
        found.append(f"accuracy FAIL (top-1 {acc['top1']:.4f} < {acc['threshold_top1']:.4f})")
    return found


def print_verdicts(record: dict, console: Console) -> None:
    """INVALID and accuracy FAIL in panels no one can miss (also printed when --json takes stdout).

    soft_wrap=False: on a soft-wrapping console (the CLI's stderr) a panel would crop its text, LoadGen's reason too.
    """
    print_loadgen_messages(record, console)
    cfg, perf, acc = record["config"], record.get("performance"), record.get("accuracy")
    if perf and not perf["valid"]:
        reasons = "; ".join(perf.get("invalid_reasons") or ["LoadGen gave no reason"])
        console.print(Panel(f"[bold]LoadGen judged this run INVALID.[/]\nReason: {escape(reasons)}\n"
                            f"What to change: {advice(record)}", title="INVALID", border_style="red"), soft_wrap=False)
    if acc and acc.get("passed") is False:
        console.print(Panel(
            f"[bold]Accuracy FAIL:[/] top-1 {acc['top1']:.4f} on {acc['count']} samples is below "
            f"{acc['threshold_top1']:.4f} ({acc['threshold']:g} x the reference {acc['reference_top1']:.4f}).\n"
            f"What to check: that --weights are the model's own (--model {cfg['model']}), and the --preprocessing "
            "profile it was trained with", title="ACCURACY FAIL", border_style="red"), soft_wrap=False)


def format_figure(figure: dict) -> str:
    """A figure with its unit and which way is better, e.g. '12.30 ms (lower is better)'."""
    value = figure.get("value")
    if value is None:
        return "n/a"
    better = "higher" if figure.get("higher_is_better") else "lower"
    return f"{value:,.3f} {figure.get('unit', '')} ({better} is better)"


def print_loadgen_messages(record: dict, console: Console) -> None:
    """Every warning and error LoadGen logged: a stray setting (an audit.config, a second conf file) shows here."""
    perf = record.get("performance") or {}
    for kind, colour in (("errors", "red"), ("warnings", "yellow")):
        for message in perf.get(kind) or []:
            console.print(f"[{colour}]LoadGen {kind[:-1]}:[/] {escape(str(message))}", highlight=False)


def passed(record: dict) -> bool:
    return not failures(record)


def print_run(record: dict, console: Console) -> None:
    cfg, perf, acc = record["config"], record.get("performance"), record.get("accuracy")
    table = Table(title=f"run {record['run_id']}", show_header=False)
    backend = record.get("backend") or {}
    table.add_row("backend", f"{cfg['backend']} ({backend.get('device', cfg['device'])}, "
                             f"{backend.get('precision', cfg['precision'])})")
    table.add_row("scenario", cfg["scenario"])
    synthetic = (record.get("model") or {}).get("synthetic_weights", cfg["synthetic_weights"])  # known models: real
    table.add_row("model", f"{cfg['model']}" + (" [yellow](synthetic weights)[/]" if synthetic else ""))
    table.add_row("dataset", "[yellow]synthetic[/]" if cfg["synthetic_data"] else escape(str(cfg["dataset"])))
    if perf:
        metric = scenarios.headline(record)
        if metric is not None:
            table.add_row(f"[bold]{metric['name']}[/] (MLPerf's metric)", format_figure(metric))
        for figure in perf.get("secondary") or []:
            table.add_row(figure["name"], format_figure(figure))
        if perf.get("samples_per_second") is not None and (metric or {}).get("unit") != "samples/s":
            table.add_row("throughput", f"{perf['samples_per_second']:,.2f} samples/s")
        lat = perf["latency_ms"]
        if lat.get("p50") is not None:
            table.add_row("latency ms p50/p90/p99",
                          " / ".join(f"{lat[p]:.2f}" for p in ("p50", "p90", "p99") if lat.get(p) is not None))
        table.add_row("LoadGen result", "[bold green]VALID[/]" if perf["valid"] else "[bold red]INVALID[/]")
        if perf.get("duration_s") is not None:
            table.add_row("timed run", f"{perf['duration_s']:,.1f} s, {perf.get('samples')} samples")
        for lost in (d for d in perf.get("per_device") or [] if d.get("lost")):  # remote: --allow-endpoint-loss
            named = lost.get("resent_sample_indices") or []
            more = f" (first {len(named)})" if len(named) < lost["resent_samples"] else ""
            table.add_row("[yellow]endpoint lost[/]", escape(f"{lost['endpoint']}: {lost['lost']}; {lost['resent_samples']} "
                          f"samples re-sent to the others, indices {named}{more}"))
    power = record.get("power") or {}
    if power.get("available"):
        per_watt = power.get("samples_per_second_per_watt")
        table.add_row("power", f"{power['avg_watts']:.1f} W avg ({power.get('label') or power.get('source')})"
                               + ("" if per_watt is None else f", {per_watt:.3f} samples/s/W"))
    elif power:
        table.add_row("power", f"[dim]n/a: {power.get('reason')}[/]")
    if acc:
        verdict = acc.get("verdict") or ("synthetic: no verdict" if acc.get("synthetic") else "no reference")
        colour = {"PASS": "green", "FAIL": "red"}.get(acc.get("verdict"), "yellow")
        counted = f"{acc['correct']}/{acc['count']}" if acc.get("correct") is not None else f"{acc['count']} samples"
        interval = acc.get("interval_95")
        ci = f", 95% CI {interval[0]:.4f}-{interval[1]:.4f}" if interval else ""
        scope = " (subset)" if acc.get("subset") else ""
        threshold = f", threshold {acc['threshold_top1']:.4f}" if acc.get("threshold_top1") is not None else ""
        table.add_row("top-1", f"{acc['top1']:.4f} ({counted}{ci}{threshold}) [{colour}]{verdict}{scope}[/]")
    console.print(table)
    print_verdicts(record, console)
    console.print(f"result: {escape(str(record.get('run_dir')))}/result.json")
