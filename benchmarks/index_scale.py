"""The results index at scale: a tree of N generated records (copies of one real null-backend record, spread over
50 configurations with seeded figures), then the time to

- read every file (bench/record/results.py's load_records, what `bench compare` does today) and group the figures;
- build the index from nothing (the rebuild after a corrupt or missing index);
- refresh it when nothing changed (a stat per file) and query every configuration's figures (a compare's or a
  history's worth of data) through it;
- compute `bench compare`'s verdicts from every file, and through the index (`bench compare --index`);
- write `bench report`'s results.csv and index.html from every file, and through the index (`bench report --index`),
  checking that the two results.csv files are the same;

and the peak Python memory (tracemalloc) of the index build at N/4 and N: flat means the build holds a batch of
records, not all of them.

    python benchmarks/index_scale.py                 # 10,000 records
    python benchmarks/index_scale.py --smallest      # 200 records (the test suite's smoke run)
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from rich.console import Console

from bench import report
from bench.config.command_line import run_config
from bench.config.run_config import DEFAULTS
from bench.index import records, store
from bench.record import codec, results
from bench.run import harness
from bench.stats import figures, verdicts

CONFIGS = 50


def template(out: Path) -> dict:
    cfg = run_config({**DEFAULTS, "backend": "null", "scenario": "single-stream",
                                    "model": "resnet18", "count": 16, "batch_size": 1, "threads": 1,
                                    "duration_s": 0.1, "output": str(out)})
    return harness.run(cfg, Console(file=io.StringIO()))


def generate(base: dict, root: Path, n: int, start: int = 0) -> None:
    """Records start..n-1: configuration i % CONFIGS (its batch size differs), a seeded figure, a repeat block."""
    rng = np.random.default_rng(start)
    for i in range(start, n):
        record = copy.deepcopy(base)
        record["config"]["batch_size"] = 1 + i % CONFIGS
        record["run_id"] = f"gen-{i:06d}"
        record["performance"]["result_metric"]["value"] = float(0.2 * rng.lognormal(0, 0.1))
        record["repeat"] = {"config_id": figures.config_id(record["config"]), "index": i // CONFIGS + 1,
                            "of": n // CONFIGS, "series": "generated", "rule": {"repeat": n // CONFIGS}}
        run_dir = root / f"cell-{i % CONFIGS:02d}" / record["run_id"]
        run_dir.mkdir(parents=True)
        record["run_dir"] = str(run_dir)
        (run_dir / "result.json").write_text(codec.dumps(record))  # speed: no fsync for generated data


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def read_every_file(root: Path) -> dict:
    found, _problems = results.load_records([root])
    by_config: dict[str, list[float]] = {}
    for _d, record in found:
        if (m := figures.headline(record).get(figures.METRIC)) is not None:
            by_config.setdefault(figures.record_config_id(record), []).append(m["value"])
    return by_config


def through_index(root: Path) -> dict:
    con = store.open_index(root)
    try:
        by_config: dict[str, list[float]] = {}
        for cid, value in con.execute("SELECT config_id, metric FROM runs WHERE metric IS NOT NULL"):
            by_config.setdefault(cid, []).append(value)
        return by_config
    finally:
        con.close()


def verdicts_from(load, root: Path) -> int:
    """`bench compare`'s verdict rows over the tree, its records read by `load`."""
    found, _problems = load([root])
    return len(verdicts.rows(found, [root]))


def build_peak(root: Path) -> tuple[float, int]:
    """(seconds of a build from nothing, its peak traced memory in a second build: tracemalloc slows what it traces)."""
    store.path_for(root).unlink(missing_ok=True)
    seconds, _ = timed(lambda: store.open_index(root).close())
    store.path_for(root).unlink()
    tracemalloc.start()
    store.open_index(root).close()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--smallest", action="store_true", help="200 records (the test's size)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    n = 200 if args.smallest else args.records
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    print(f"{cpu}: results index over {n:,} generated records in {CONFIGS} configurations", flush=True)
    with tempfile.TemporaryDirectory(prefix="index-scale-") as tmp:
        tmp = Path(tmp)
        base = template(tmp / "template")
        root = tmp / "tree"
        quarter = n // 4
        generate(base, root, quarter)
        _, peak_quarter = build_peak(root)
        generate(base, root, n, quarter)
        build_s, peak_full = build_peak(root)
        files_s, by_files = timed(lambda: read_every_file(root))
        index_s, by_index = timed(lambda: through_index(root))
        assert {k: sorted(v) for k, v in by_files.items()} == {k: sorted(v) for k, v in by_index.items()}
        compare_files_s, rows_files = timed(lambda: verdicts_from(results.load_records, root))
        compare_index_s, rows_index = timed(lambda: verdicts_from(records.load, root))
        assert rows_files == rows_index
        report_files_s, _ = timed(lambda: report.write([root], tmp / "report-files"))
        report_index_s, _ = timed(lambda: report.write([root], tmp / "report-index", records.load_report([root])))
        assert (tmp / "report-files" / "results.csv").read_text() == (tmp / "report-index" / "results.csv").read_text()
        out = {"records": n, "read_every_file_s": round(files_s, 3), "index_rebuild_s": round(build_s, 3),
               "index_refresh_and_query_s": round(index_s, 3), "compare_verdicts_files_s": round(compare_files_s, 3),
               "compare_verdicts_index_s": round(compare_index_s, 3), "report_files_s": round(report_files_s, 3),
               "report_index_s": round(report_index_s, 3), "build_peak_mb_quarter": round(peak_quarter / 1e6, 2),
               "build_peak_mb_full": round(peak_full / 1e6, 2)}
    print(f"read every file: {out['read_every_file_s']:.2f} s; index: rebuild {out['index_rebuild_s']:.2f} s, "
          f"refresh + query {out['index_refresh_and_query_s']:.2f} s (same figures)")
    print(f"bench compare's verdicts: {out['compare_verdicts_files_s']:.2f} s reading every file, "
          f"{out['compare_verdicts_index_s']:.2f} s through the index")
    print(f"bench report (results.csv + index.html): {out['report_files_s']:.2f} s reading every file, "
          f"{out['report_index_s']:.2f} s through the index (same results.csv); through the index, report "
          f"{out['report_index_s']:.2f} s and compare {out['compare_verdicts_index_s']:.2f} s, beside the index "
          f"rebuild's {out['index_rebuild_s']:.2f} s")
    print(f"index build's peak Python memory: {out['build_peak_mb_quarter']:.1f} MB at {quarter:,} records, "
          f"{out['build_peak_mb_full']:.1f} MB at {n:,}")
    if args.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
