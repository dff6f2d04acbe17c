"""torch-compile backend through real LoadGen: compile outside the timed region, padding, agreement with torch.

Compiling is slow (tens of seconds on 2 cores), so the session compiles two shapes only: batch 4 (Offline,
then Server, which reuses the compiled kernels) and batch 1 (SingleStream). The model is the trained
EfficientNet-Lite0: with seeded random weights every real image gets the same class and agreement means nothing.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="PyTorch is not installed: pip install 'bench[torch]'")

from bench import models  # noqa: E402
from bench.record import accuracy
from tests.backend_helpers import IMAGES, loaded, real_images  # noqa: E402
from tests.conftest import FAST_RUN, only_run  # noqa: E402

SHORT_SERVER_CONF = "*.Server.min_query_count = 24\n"
MODEL = "efficientnet-lite0"


def check_compiled(record: dict, batch: int) -> dict:
    assert record["status"] == "complete", record.get("error")
    info = record["backend"]
    assert info["name"] == "torch-compile" and info["device"] == "cpu"
    assert info["inductor_freezing"] is True and info["compile_mode"] == "default"
    assert info["compiled_batch"] == batch and info["threads"] == 1
    # Compile happens in load (untimed) and is recorded; the timed run never compiles.
    assert 0 < info["compile_s"] <= record["timing"]["load_s"]
    assert info["inductor_cache_dir"] and "compiled kernels" in info["reused_from_cache"]
    return info


def test_offline_valid_and_agrees_with_torch_on_real_images(bench_cli, results_dir):
    """18 real images in batches of 4: the last batch (2) is padded to the compiled shape and must still be right."""
    result = bench_cli("run", "--backend", "torch-compile", "--scenario", "offline", "--output", results_dir,
                       *FAST_RUN, "--model", MODEL, "--count", "18", "--dataset", IMAGES, "--mode", "both")
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    check_compiled(record, 4)
    assert record["performance"]["loadgen_validity"] == "VALID"
    predicted = accuracy.predictions(results_dir / record["run_id"] / "loadgen" / "accuracy" /
                                     "mlperf_log_accuracy.json")
    assert sorted(predicted) == list(range(18))
    reference = loaded("torch", model=MODEL).predict(real_images(18, models.resolve(MODEL).preprocessing))
    assert len(set(reference.tolist())) > 1, "vacuous: torch gives one class for every image"
    agreement = sum(predicted[i] == reference[i] for i in range(18)) / 18
    assert agreement >= 0.99


def test_server_reuses_the_compiled_shape(bench_cli, results_dir, tmp_path):
    conf = tmp_path / "user.conf"
    conf.write_text(SHORT_SERVER_CONF)
    result = bench_cli("run", "--backend", "torch-compile", "--scenario", "server", "--output", results_dir,
                       *FAST_RUN, "--model", MODEL, "--user-conf", conf, "--target-qps", "5",
                       "--latency-bound-ms", "5000")
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    check_compiled(record, 4)
    assert record["performance"]["samples"] > 0


def test_single_stream_valid(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "torch-compile", "--scenario", "single-stream", "--output", results_dir,
                       *FAST_RUN, "--model", MODEL)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    check_compiled(record, 1)
    assert record["performance"]["loadgen_validity"] == "VALID"


def test_unknown_compile_mode_exits_2(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "torch-compile", "--compile-mode", "fastest", "--output", results_dir,
                       *FAST_RUN, "--model", MODEL)
    assert result.exit_code == 2
    assert "max-autotune" in result.output
