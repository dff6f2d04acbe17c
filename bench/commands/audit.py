"""`bench audit TEST01|TEST04 ...`: MLPerf compliance audits, PASS or FAIL as the official scripts judge."""

from __future__ import annotations

import click
from rich.table import Table

from bench.commands.shared import config, run_options
from bench.config.command_line import click_options


@run_options
@click.command("audit")
@click.argument("tests", nargs=-1, required=True, type=click.Choice(["TEST01", "TEST04"],
                                                                      case_sensitive=False))
@click_options(("scenario", "profile", "target_qps", "user_conf", "output"))
def audit_cmd(tests, scenario, profile, target_qps, user_conf, output, **options):
    """Run the reference and the audited LoadGen runs on one loaded backend and judge them. TEST01: sampled
    performance-mode answers equal the accuracy run's; TEST04: the same sample again is no faster (TEST05 left
    MLPerf in v5.0). Exit 3 if any test FAILs."""
    from bench.console import err, out
    from bench.errors import EXIT_STRICT
    from bench.mlperf import audit

    cfg = config(options, scenario=scenario, profile=profile, target_qps=target_qps, user_conf=user_conf,
                 output=output)
    record = audit.audit(cfg, [t.upper() for t in tests], err)
    table = Table(title=f"bench audit: {cfg.backend} {scenario} ({record['run_id']})")
    for column in ("test", "verdict", "checks", "compliance folder"):
        table.add_column(column)
    for test, result in record["audit"].items():
        checks = ", ".join(f"{name} {'pass' if c['passed'] else 'FAIL'}" for name, c in result["checks"].items())
        colour = "green" if result["passed"] else "red"
        table.add_row(test, f"[bold {colour}]{result['verdict']}[/]", checks, result["compliance_dir"])
    out.print(table)
    for test, result in record["audit"].items():
        if not result["passed"]:
            for name, check in result["checks"].items():
                if not check["passed"]:
                    err.print(f"[red]{test} {name}:[/]\n{check['report']}")
    if not all(r["passed"] for r in record["audit"].values()):
        raise click.exceptions.Exit(EXIT_STRICT)
