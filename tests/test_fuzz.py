"""Property tests: the val_map and user.conf parsers and the result-record loader never crash on arbitrary input.

Each either parses or raises UsageError with a message naming the file (and line). The user.conf parser is also
checked against LoadGen itself: a file bench accepts, LoadGen must accept too (else the run would stop late, or
LoadGen would quietly ignore a line the user believes in). Example counts are small and the seed fixed, so the
suite stays fast and every run tries the same inputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.config import userconf
from bench.data.imagenet import NUM_CLASSES, read_val_map
from bench.errors import UsageError
from bench.record import results

FUZZ = settings(max_examples=150, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SCRATCH = Path()  # set by _scratch: hypothesis examples reuse one file per reader, pytest cleans the directory


@pytest.fixture(scope="module", autouse=True)
def _scratch(tmp_path_factory):
    global SCRATCH
    SCRATCH = tmp_path_factory.mktemp("fuzz")


# Text that hits the parsers' edges: separators, digits of other scripts, NULs, odd line breaks.
EDGY = st.text(st.sampled_from(list(" \t\r\n\x0b\x0c\x1c\u2028\u00a0=#.*-_019٣xOfflineServer\0é")), max_size=80)
ANY_TEXT = st.one_of(st.text(max_size=300), EDGY)


def _file(name: str, data: str | bytes) -> Path:
    path = SCRATCH / name
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    return path


# ---- val_map ---------------------------------------------------------------------------------------------------

def _check_val_map(path: Path, text: str | None = None) -> None:
    try:
        entries = read_val_map(path)
    except UsageError as exc:
        assert str(path) in str(exc)
        return
    assert entries, "an empty val_map must be an error, not an empty dataset"
    for name, label in entries:
        assert isinstance(name, str) and name and "\0" not in name and name == name.strip()
        assert type(label) is int and 0 <= label < NUM_CLASSES
    if text is not None:  # each label is the line's last field, in ASCII digits ('٣' or '1_0' are not labels)
        fields = [line.split()[-1] for line in text.splitlines() if line.strip()]
        assert [f.isascii() and f.isdigit() and int(f) for f in fields] == [label for _, label in entries]


@FUZZ
@given(ANY_TEXT)
@example("a.JPEG ٣\n")  # Arabic-Indic three: int() takes it, a val_map must not
@example("a.JPEG 1_0\n")
@example("a\0b.JPEG 3\n")
@example("a.JPEG " + "9" * 5000 + "\n")  # int() refuses over 4300 digits with a ValueError
def test_val_map_text(text):
    _check_val_map(_file("val_map.txt", text), text)


@FUZZ
@given(st.binary(max_size=300))
def test_val_map_bytes(data):
    _check_val_map(_file("val_map.txt", data))


NAME = st.text(st.characters(codec="utf-8", exclude_characters="\n\r\0\ufeff"), min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and s.split() == [s])


@FUZZ
@given(st.lists(st.tuples(NAME, st.integers(-5, NUM_CLASSES + 5)), min_size=1, max_size=8))
def test_val_map_well_formed_lines_read_back_exactly(rows):
    path = _file("val_map.txt", "".join(f"{name} {label}\n" for name, label in rows))
    seen, says = {}, None  # the first bad line decides: a label out of range, or an image under two labels
    for name, label in rows:
        if not 0 <= label < NUM_CLASSES:
            says = r"outside 0\.\.999"
            break
        if seen.setdefault(os.path.normpath(name), label) != label:
            says = "labels it"
            break
    if says is None:
        assert read_val_map(path) == rows
    else:
        with pytest.raises(UsageError, match=says):
            read_val_map(path)


# ---- user.conf -------------------------------------------------------------------------------------------------

@FUZZ
@given(ANY_TEXT)
def test_user_conf_text(text):
    try:
        entries = userconf.parse(text, "u.conf")
    except UsageError as exc:
        assert str(exc).startswith("u.conf:")
        return
    assert all(len(e) == 4 and all(isinstance(part, str) and part for part in e) for e in entries)


class LoadGenConf:
    """LoadGen's own user.conf reader, in a child process: LoadGen keeps global state across conf reads."""

    CODE = ("import json, sys, mlperf_loadgen as lg\n"
            "for line in sys.stdin:\n"
            "    ts = lg.TestSettings()\n"
            "    rc = ts.FromConfig(json.loads(line), 'resnet50', 'Offline', 1)\n"
            "    print(json.dumps([rc, repr(ts.offline_expected_qps)]), flush=True)\n")

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)

    def read(self, path: Path) -> tuple[int, float]:
        """LoadGen's return code, and the Offline target QPS it took for resnet50."""
        self.proc.stdin.write(json.dumps(str(path)) + "\n")
        self.proc.stdin.flush()
        rc, qps = json.loads(self.proc.stdout.readline())
        return rc, float(qps)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def loadgen_conf():
    reader = LoadGenConf()
    yield reader
    reader.close()


SPACES = st.sampled_from([" ", "  ", "\t", "", "\u00a0"])
CONF_KEY = st.one_of(
    st.sampled_from(["*.Offline.target_qps", "resnet50.Offline.target_qps", "resnet50.*.target_qps", "*.*.target_qps",
                     "*.Server.target_qps", "resnet50.Offline.min_duration", "*.*.min_query_count",
                     "*.offline.target_qps", "*.Offline.target_qps=10", "#", "#note", "*..target_qps", "target_qps"]),
    st.text(st.sampled_from(list("ab.*_-#=")), min_size=1, max_size=12))
CONF_VALUE = st.one_of(
    st.sampled_from(["10", "1e3", "0x10", "+5", ".5", "10.", "-3", "inf", "1_0", "abc", "10#c", "", "1e", "٣"]),
    st.floats(allow_nan=False).map(lambda v: f"{v:g}"), st.integers(-10**6, 10**6).map(str))
CONF_LINE = st.tuples(st.sampled_from(["", " ", "\t"]), CONF_KEY, SPACES, st.sampled_from(["=", "==", ""]), SPACES,
                      CONF_VALUE, st.sampled_from(["", " ", " # why", " 20", "#c"])).map("".join)


@FUZZ
@given(st.lists(CONF_LINE, min_size=1, max_size=4))
@example(["*.Offline.target_qps=10"])  # LoadGen ignores it without a word: bench must refuse it
@example(["*.Offline.target_qps = 10 # why"])  # LoadGen refuses a trailing comment
@example(["#note about this file"])  # and '#word' as a first token
def test_user_conf_accepted_by_bench_is_accepted_by_loadgen(loadgen_conf, lines):
    text = "\n".join(lines) + "\n"
    path = _file("user.conf", text)
    try:
        entries = userconf.parse(text, str(path))
    except UsageError:
        return  # bench may be stricter than LoadGen: it refuses what LoadGen would quietly ignore
    rc, qps = loadgen_conf.read(path)
    assert rc == 0, f"bench accepted what LoadGen refuses:\n{text}"
    # And LoadGen applies what bench read: the same Offline target QPS, by LoadGen's precedence (exact key, then
    # *.Offline, resnet50.*, *.*; the last line of a key wins), or LoadGen's default where bench saw none.
    kv = {f"{m}.{s}.{k}": v for m, s, k, v in entries}
    given = next((kv[k] for k in ("resnet50.Offline.target_qps", "*.Offline.target_qps", "resnet50.*.target_qps",
                                  "*.*.target_qps") if k in kv), None)
    assert qps == (_c_double(given) if given is not None else loadgen_conf.read(_file("empty.conf", ""))[1]), text


def _c_double(text: str) -> float:
    """What C's strtod reads, for the numbers userconf accepts (Python's float() has no hex)."""
    sign, digits = (-1.0, text[1:]) if text[0] == "-" else (1.0, text.lstrip("+"))
    return sign * (float.fromhex(digits) if digits.lower().startswith("0x") else float(digits))


# ---- result records --------------------------------------------------------------------------------------------

def _check_record(path: Path) -> None:
    try:
        record = results.load(path)
    except UsageError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(record, dict) and isinstance(record["config"], dict)
    assert isinstance(record["schema"], int) and record["schema"] <= results.SCHEMA
    assert {"run_id", "status"} <= record.keys()


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
RECORDISH = st.fixed_dictionaries(
    {}, optional={"schema": st.one_of(st.integers(-2, 3), JSON), "run_id": JSON, "status": JSON,
                  "config": st.one_of(st.dictionaries(st.text(max_size=5), JSON, max_size=3), JSON)})


@FUZZ
@given(ANY_TEXT)
@example("[" * 100_000)  # deep nesting: json raises RecursionError, not ValueError
@example('{"schema": 1, "run_id": "x", "status": "complete", "config": []}')
def test_result_record_text(text):
    _check_record(_file("result.json", text))


@FUZZ
@given(st.binary(max_size=200))
def test_result_record_bytes(data):
    _check_record(_file("result.json", data))


@FUZZ
@given(st.one_of(RECORDISH, JSON))
def test_result_record_json(value):
    _check_record(_file("result.json", json.dumps(value)))
