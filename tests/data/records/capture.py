"""Re-make the captured records (run from the repository root): `python tests/data/records/capture.py`.

These result.json files were written by the code BEFORE the typed record (bench/record/schema.py) replaced the
dict literals; tests/test_record_schema.py reads each back and requires the writer to reproduce it byte for byte.
Re-capturing with a later bench would only test the writer against itself: do so only when the schema changes.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

HERE = Path(__file__).resolve().parent
FAST = ["--model", "resnet18", "--count", "16", "--batch-size", "4", "--threads", "1", "--duration", "1"]
RUNS = {
    "offline": ["--backend", "null", "--scenario", "offline"],
    "server": ["--backend", "null", "--scenario", "server", "--target-qps", "200"],
    "server-invalid": ["--backend", "null", "--scenario", "server", "--target-qps", "1000",
                       "--latency-bound-ms", "0.001"],
    "single-stream": ["--backend", "null", "--scenario", "single-stream"],
    "multi-stream": ["--backend", "null", "--scenario", "multi-stream"],
    "accuracy": ["--backend", "null", "--scenario", "offline", "--mode", "accuracy"],
    "both-real-images": ["--backend", "null", "--scenario", "offline", "--mode", "both",
                         "--dataset", str(HERE.parent / "imagenet")],
    "failed": ["--backend", "wrong-shape", "--scenario", "offline", "--mode", "accuracy"],
}


def main() -> None:
    from bench import backends
    from bench.cli import cli

    backends.REGISTRY["wrong-shape"] = "tests.faulty_backends:WrongShape"
    for name, args in RUNS.items():
        with tempfile.TemporaryDirectory() as tmp:
            result = CliRunner().invoke(cli, ["run", *args, *FAST, "--output", tmp, "--system-name", "capture"])
            found = list(Path(tmp).glob("*/result.json"))
            print(name, result.exit_code, file=sys.stderr)
            shutil.copyfile(found[0], HERE / f"{name}.json")


if __name__ == "__main__":
    main()
