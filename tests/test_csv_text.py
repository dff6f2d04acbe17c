"""results.csv is data: a system name holding a newline or a tab round-trips into it (a CSV field carries both);
control characters are kept out of the terminal and the page, never out of the data export."""

from __future__ import annotations

import csv

from bench.record import codec

NAME = "rack 4\nnode\t7 \x1b[31mred"


def test_a_system_name_with_a_newline_round_trips_into_results_csv(bench_cli, tmp_path):
    out = tmp_path / "results"
    result = bench_cli("run", "--backend", "null", "--count", "8", "--null-image-size", "1", "--duration", "0.5",
                       "--system-name", NAME, "--output", out)
    assert result.exit_code == 0, result.output
    report = bench_cli("report", out, "--out", tmp_path / "report")
    assert report.exit_code == 0, report.output
    assert not codec.CONTROL.search(report.output.replace("\n", "")), repr(report.output)
    with open(tmp_path / "report" / "results.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert row["system"] == NAME  # byte for byte, newline, tab and escape included
    page = (tmp_path / "report" / "index.html").read_text()
    assert "rack 4node7 [31mred" in page and "\x1b" not in page  # shown text: no control characters
    compared = bench_cli("compare", out)
    assert compared.exit_code == 0 and not codec.CONTROL.search(compared.output.replace("\n", ""))
