"""The typed record (bench/record/schema.py) against records the dict-built code wrote (tests/data/records/).

Those files were captured before the typed record replaced the dict literals (tests/data/records/capture.py): the
reader reads each one and the writer gives it back byte for byte; a new run has their keys, in their order, with
the same JSON types; the report made from them is the one the old code made (results.csv, byte for byte).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import typing
from pathlib import Path

import pytest

from bench.record import codec, results, schema
from tests.conftest import ROOT, TEST_DATA

RECORDS = TEST_DATA / "records"
CAPTURED = sorted(p.stem for p in RECORDS.glob("*.json"))
OLDER = sorted(f"older/{p.stem}" for p in (RECORDS / "older").glob("*.json"))  # written by earlier versions
FAST = ["--model", "resnet18", "--count", "16", "--batch-size", "4", "--threads", "1", "--duration", "1"]


def test_captured_records_cover_each_scenario_and_ending():
    statuses = {name: json.loads((RECORDS / f"{name}.json").read_text())["status"] for name in CAPTURED}
    scenarios_seen = {json.loads((RECORDS / f"{n}.json").read_text())["config"]["scenario"] for n in CAPTURED}
    assert scenarios_seen == {"offline", "server", "single-stream", "multi-stream"}
    assert statuses["failed"] == "failed" and {"accuracy", "both-real-images"} <= set(statuses)


@pytest.mark.parametrize("name", CAPTURED + OLDER)
def test_captured_record_reads_typed_and_writes_back_byte_for_byte(name, tmp_path):
    data = (RECORDS / f"{name}.json").read_bytes()
    (tmp_path / "result.json").write_bytes(data)
    record = results.read(tmp_path)
    assert isinstance(record, schema.Record) and isinstance(record.config, schema.Config)
    if record.performance is not None:
        assert isinstance(record.performance.result_metric, schema.Metric)
        assert isinstance(record.performance.latency_ms, schema.Latency)
    out = tmp_path / "again"
    out.mkdir()
    assert results.write(out, record).read_bytes() == data


def _shape(value):
    """Keys in order and JSON types, values left out: what a new record must share with a captured one."""
    if isinstance(value, dict):
        return [(k, _shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return ["list", sorted({json.dumps(_shape(v)) for v in value})]
    # LoadGen logs a whole rate as an integer (27291) and another as a float: both are a number here; the byte-for-byte
    # test above holds the writer's number formatting.
    return "number" if type(value) in (int, float) else type(value).__name__


# How each captured record was made; a new run with the same arguments must have its shape. (Not the latency
# scenarios: a 1 s run may or may not meet early stopping, which changes the metric's keys from run to run.)
RERUN = {
    "offline": ["--backend", "null", "--scenario", "offline"],
    "accuracy": ["--backend", "null", "--scenario", "offline", "--mode", "accuracy"],
    "both-real-images": ["--backend", "null", "--scenario", "offline", "--mode", "both",
                         "--dataset", str(RECORDS.parent / "imagenet")],
    "failed": ["--backend", "wrong-shape", "--scenario", "offline", "--mode", "accuracy"],
}


# Keys added on purpose since the capture ("keys may be added"; none renamed or removed): left out of a new record
# before comparing. A key missing from this list fails the test below, so an addition is always a decision.
ADDED_SINCE_CAPTURE = {
    "process.malloc.environment": "in_force read from the process (issue 28): the variables it started with",
    "dataset.preprocessing.exif_orientation": "the mlperf profile's EXIF handling, said for every profile",
    "performance.data_path": "the form and host copies the timed batches took (the sim backend's change)",
    "timing.first_call_s": "the first warm-up batch, a start-up cost (issue 27)",
    "timing.compile_s": "the compile or engine build the backend reports in load (issue 27)",
}
# results.csv columns added since the capture: every other field of every row is still what the old code wrote.
COLUMNS_SINCE_CAPTURE = {"load_s", "compile_s", "warmup_s", "first_call_s",  # start-up costs (issue 27)
                         "config_runs", "accuracy_gate",  # runs of its configuration, its accuracy gate (issue 27)
                         "endpoints", "server_time", "server_queue_ms", "server_compute_input_ms",  # remote (26)
                         "server_infer_ms", "server_compute_output_ms", "server_other_ms"}


def _drop(record: dict, dotted: str) -> None:
    *path, last = dotted.split(".")
    for key in path:
        record = record.get(key) or {}
    record.pop(last, None)


@pytest.mark.parametrize("name", sorted(RERUN))
def test_a_new_record_has_the_captured_keys_order_and_types(name, tmp_path, bench_cli, monkeypatch):
    from bench import backends

    monkeypatch.setitem(backends.REGISTRY, "wrong-shape", "tests.faulty_backends:WrongShape")
    bench_cli("run", *RERUN[name], *FAST, "--output", tmp_path, "--system-name", "capture")
    (path,) = tmp_path.glob("*/result.json")
    new, old = json.loads(path.read_text()), json.loads((RECORDS / f"{name}.json").read_text())
    for record in (new, old):  # run-specific values that can change type between two runs of one command
        record["timing"].pop("warmup_estimate", None)
        record["system"].pop("cpu_mhz", None)  # None where the kernel gives no frequency
        record["system"]["packages"] = {}
        record["config"]["output"] = ""
    for added in ADDED_SINCE_CAPTURE:
        _drop(new, added)
    assert _shape(new) == _shape(old)


@pytest.mark.parametrize("where", [RECORDS, RECORDS / "older"])
def test_report_of_captured_records_is_the_one_the_old_code_wrote(where, tmp_path, bench_cli):
    names = sorted(p.stem for p in where.glob("*.json"))
    for name in names:
        (tmp_path / "tree" / name).mkdir(parents=True)
        shutil.copyfile(where / f"{name}.json", tmp_path / "tree" / name / "result.json")
    result = bench_cli("report", tmp_path / "tree", "--out", tmp_path / "report")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    csv = (tmp_path / "report" / "results.csv").read_text().replace(f"{(tmp_path / 'tree').resolve()}/", "")
    import csv as csvlib
    import io

    new = list(csvlib.DictReader(io.StringIO(csv, newline="")))
    old = list(csvlib.DictReader(io.StringIO((where / "results.csv").read_text(), newline="")))
    assert set(new[0]) - set(old[0]) == COLUMNS_SINCE_CAPTURE and set(old[0]) <= set(new[0])
    assert [k for k in new[0] if k in old[0]] == list(old[0])  # the old columns in their order
    # made by the code before bench/report/columns.py: field for field, as text
    assert [{k: r[k] for k in old[0]} for r in new] == old
    result = bench_cli("compare", *(tmp_path / "tree" / n for n in names[:3]))
    assert result.exit_code == 0 and "×" in result.output and "skipped" not in result.output, result.output
    if where.name == "older":
        assert "(schema 1)" in result.output  # a schema-1 metric is named as such, never as MLPerf's


# ---- the columns and docs/record-fields.md are checked against the declaration ---------------------------------------

def resolve(path: str):
    """The declared type at a dotted path of Record; AssertionError naming the first undeclared step."""
    tp: typing.Any = schema.Record
    for step in path.split("."):
        tp = next((a for a in typing.get_args(tp) if a is not type(None)), tp)  # X | None -> X
        if dataclasses.is_dataclass(tp) or typing.is_typeddict(tp):
            hints = typing.get_type_hints(tp)
            assert step in hints, f"{path}: {tp.__name__} declares no {step!r} (bench/record/schema.py)"
            tp = hints[step]
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            raise AssertionError(f"{path}: {step!r} is under a {tp}, which has no fields")
    return tp


def test_every_report_column_reads_declared_fields():
    from bench.commands import compare
    from bench.report import columns, table

    assert columns.COLUMNS and all(c.key for c in columns.COLUMNS)
    for column in columns.COLUMNS:
        for path in column.key:
            resolve(path)
    with pytest.raises(AssertionError, match="declares no 'nowhere'"):
        resolve("performance.nowhere")  # the check above can fail
    # One list: the summary table, compare's rows and the CSV's columns all come from it.
    assert list(table.SUMMARY) == [c.name for c in columns.SUMMARY]
    assert [m[0] for m in compare.METRICS] == [c.name for c in columns.COMPARE_RATIO]
    record = json.loads((RECORDS / "offline.json").read_text())
    assert list(table.row(Path("x"), record)) == [c.name for c in columns.COLUMNS] + ["label"]


def test_docs_record_fields_md_is_the_declaration():
    from bench.record import fields_doc

    text = (ROOT / "docs" / "record-fields.md").read_text()
    assert fields_doc.table() in text, \
        "docs/record-fields.md is stale: python -m bench.record.fields_doc > docs/record-fields.md"
    for section in ("performance", "accuracy", "power", "system", "process", "scenario", "snapshot"):
        assert f"| `{section}` |" in text


def test_every_field_is_json_typed():
    """Each declared field has a type the reader can check (no bare object, no tuple): the reader is strict."""
    for cls in schema.Section.__subclasses__():
        for name, tp in typing.get_type_hints(cls).items():
            if name in ("extra_keys", "read_order"):
                continue
            assert codec.describe(tp), f"{cls.__name__}.{name}"


def test_a_schema_1_record_still_reads_and_is_labelled_as_such(tmp_path, bench_cli):
    """Schema 1 carried raw p90 for SingleStream as {name, value}: read, shown, and never passed off as MLPerf's."""
    old = json.loads((RECORDS / "single-stream.json").read_text())
    old["schema"] = 1
    old["performance"]["result_metric"] = {"name": "p90_latency_ms", "value": 2.5}
    del old["performance"]["secondary"]
    (tmp_path / "tree" / "old").mkdir(parents=True)
    (tmp_path / "tree" / "old" / "result.json").write_text(json.dumps(old, indent=2) + "\n")
    record = results.read(tmp_path / "tree" / "old")
    assert record.schema == 1 and record.performance and record.performance.result_metric
    assert record.performance.result_metric.unit is None  # as written: the reader does not invent one
    assert results.write(tmp_path, record).read_text() == (tmp_path / "tree" / "old" / "result.json").read_text()
    result = bench_cli("report", tmp_path / "tree", "--out", tmp_path / "report")
    assert result.exit_code == 0 and "skipped" not in result.output, result.output
    csv = (tmp_path / "report" / "results.csv").read_text()
    assert "p90 latency (schema 1),2.5,ms,lower" in csv
    result = bench_cli("compare", tmp_path / "tree" / "old")
    assert result.exit_code == 0 and "p90 latency (schema 1)" in result.output, result.output


def test_readme_record_block_lists_the_declared_sections():
    """docs/record.md's record overview names each section the schema declares, and no other."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = [m[1] for m in (re.search(r"```\n(schema, run_id, status.*?)```", p.read_text(), re.S) for p in pages) if m]
    assert found, "the record overview block (```schema, run_id, status ...```) is gone"
    listed = {line.split()[0] for line in found[0].splitlines()[1:] if line and not line.startswith(" ")}
    sections = {f.name for f in dataclasses.fields(schema.Record)
                if not f.metadata.get("internal") and f.name not in ("audit", "nonfinite")
                and f.name not in {"schema", "run_id", "status", "started_at", "finished_at", "error", "run_dir"}}
    assert listed == sections


def test_a_new_column_is_one_entry(monkeypatch):
    """A declared field shown in results.csv by one Column, nothing else touched (here: the run's CPU seconds)."""
    from bench.report import columns, table

    record = json.loads((RECORDS / "offline.json").read_text())
    new = columns.Column("cpu_seconds", ("performance.cpu.seconds",), heading="CPU s", unit="s", format="number")
    resolve(new.key[0])
    monkeypatch.setattr(columns, "COLUMNS", [*columns.COLUMNS, new])
    df = table.frame([(Path("x"), record)])
    assert df["cpu_seconds"].iloc[0] == record["performance"]["cpu"]["seconds"]
    assert "cpu_seconds" in df.to_csv(index=False).splitlines()[0]


def test_a_section_takes_only_declared_keys():
    perf = schema.Performance()
    perf["samples"] = 8  # callers written against the dict record still work, on declared fields
    assert perf.samples == 8 and perf["samples"] == 8 and "samples" in perf and "bogus" not in perf
    with pytest.raises(KeyError, match="declares no field 'bogus': add it to bench/record/schema.py"):
        perf["bogus"] = 1
