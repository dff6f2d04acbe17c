"""The live progress table (done, running on which node, failed, left) and one line per event for logs."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.sweep.tree import Sweep

SETTLED = ("complete", "skipped", "resumed")
STYLE = {"complete": "green", "resumed": "green", "skipped": "yellow", "failed": "red", "unplaceable": "red",
         "running": "cyan", "interrupted": "yellow"}


class Progress:
    """A rich renderable over the sweep's state, redrawn by rich.live.Live, plus event lines."""

    def __init__(self, sweep: Sweep, console: Console):
        self.sweep, self.console = sweep, console

    def __rich__(self) -> Table:
        cells = list(self.sweep.cells.values())
        counts = Counter(c["status"] for c in cells)
        done, left = counts["complete"] + counts["resumed"], counts["pending"] + counts["queued"]
        parts = [f"{done} done"] + [f"{counts[s]} {s}" for s in ("running", "failed", "unplaceable", "skipped")
                                    if counts[s]] + [f"{left} left"]
        table = Table(title=f"sweep {self.sweep.id}: {', '.join(parts)}", title_justify="left")
        for column in ("target", "cell", "status", "node", "tries"):
            table.add_column(column, no_wrap=column != "cell")
        for c in cells:
            if c["status"] in ("pending",):
                continue
            node = c["node"] or {}
            where = f"{str(node.get('node_id'))[:8]} {node.get('ip') or node.get('hostname')}" if node else ""
            style = STYLE.get(c["status"], "white")
            table.add_row(escape(c["target"]), escape(c["key"]), f"[{style}]{c['status']}[/]", escape(where.strip()),
                          str(len(c["attempts"])))
        return table

    def event(self, entry: dict, status: str, detail: str = "") -> None:
        style = STYLE.get(status, "white")
        text = f"[{style}]{status:<11}[/] {escape(entry['target'])}/{escape(entry['key'])}"
        if detail:
            text += f"  {escape(detail)}"
        self.console.print(text, highlight=False, soft_wrap=True)


def where(node: dict | None) -> str:
    if not node:
        return ""
    return f"on {node.get('hostname')} ({node.get('ip') or 'this machine'}, node {str(node.get('node_id'))[:8]})"
