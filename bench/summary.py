"""The end-of-run summary in the terminal: the metric, VALID or INVALID with LoadGen's reason, accuracy."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

ADVICE = {
    "server": "lower --target-qps, raise --latency-bound-ms, or use a smaller --batch-size / --max-wait-ms",
    "offline": "give --target-qps near the real throughput, or a longer --duration",
    "single-stream": "give a longer --duration, or check that the expected latency is right",
}


def passed(record: dict) -> bool:
    perf, acc = record.get("performance"), record.get("accuracy")
    if perf and not perf.get("valid"):
        return False
    return not (acc and acc.get("passed") is False)


def print_run(record: dict, console: Console) -> None:
    cfg, perf, acc = record["config"], record.get("performance"), record.get("accuracy")
    table = Table(title=f"run {record['run_id']}", show_header=False)
    backend = record.get("backend") or {}
    table.add_row("backend", f"{cfg['backend']} ({backend.get('device', cfg['device'])}, "
                             f"{backend.get('precision', cfg['precision'])})")
    table.add_row("scenario", cfg["scenario"])
    table.add_row("model", f"{cfg['model']}" + (" [yellow](synthetic weights)[/]" if cfg["synthetic_weights"] else ""))
    table.add_row("dataset", "[yellow]synthetic[/]" if cfg["synthetic_data"] else str(cfg["dataset"]))
    if perf:
        metric = perf["result_metric"]
        value = metric["value"]
        table.add_row(metric["name"], "n/a" if value is None else f"{value:,.3f}")
        if perf.get("samples_per_second") is not None:
            table.add_row("samples/s", f"{perf['samples_per_second']:,.2f}")
        lat = perf["latency_ms"]
        if lat.get("p50") is not None:
            table.add_row("latency ms p50/p90/p99",
                          " / ".join(f"{lat[p]:.2f}" for p in ("p50", "p90", "p99") if lat.get(p) is not None))
        table.add_row("LoadGen result", "[bold green]VALID[/]" if perf["valid"] else "[bold red]INVALID[/]")
    power = record.get("power") or {}
    if power.get("available"):
        table.add_row("power", f"{power['avg_watts']:.1f} W avg, {power['samples_per_second_per_watt']:.3f} samples/s/W")
    elif power:
        table.add_row("power", f"[dim]n/a: {power.get('reason')}[/]")
    if acc:
        verdict = acc.get("verdict") or ("synthetic: no verdict" if acc.get("synthetic") else "no reference")
        colour = {"PASS": "green", "FAIL": "red"}.get(acc.get("verdict"), "yellow")
        table.add_row("top-1", f"{acc['top1']:.4f} on {acc['count']} samples [{colour}]{verdict}[/]")
    console.print(table)
    if perf and not perf["valid"]:
        reasons = "; ".join(perf.get("invalid_reasons") or ["LoadGen gave no reason"])
        console.print(Panel(f"[bold]LoadGen judged this run INVALID.[/]\nReason: {reasons}\n"
                            f"What to change: {ADVICE[cfg['scenario']]}", title="INVALID", border_style="red"))
    console.print(f"result: {record.get('run_dir')}/result.json")
