"""`--streams N` on the CPU: the record says the streams and threads that ran, the scenarios ran that many workers;
a backend, device or scenario that cannot honour it is refused; torch records its memory-format choice."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import only_run

RUN = ["--scenario", "offline", "--model", "resnet18", "--count", "8", "--batch-size", "2", "--duration", "0.5"]


def _installed(module: str):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"{module} is not installed")


@pytest.mark.parametrize("backend, module", [("torch", "torch"), ("torch-compile", "torch"),
                                             pytest.param("onnxruntime", "onnxruntime",
                         marks=_installed("onnxruntime")), pytest.param("openvino", "openvino",
                         marks=_installed("openvino"))])
def test_streams_run_and_are_recorded(bench_cli, tmp_path, backend, module):
    result = bench_cli("run", "--backend", backend, *RUN, "--streams", "2", "--threads", "2", "--output", tmp_path)
    assert result.exit_code == 0, result.output
    record = only_run(tmp_path)
    ran = record["backend"]
    assert ran["streams"] == 2 and ran["threads"] == 2, ran
    assert record["config"]["extra"]["streams"] == 2
    assert record["performance"]["samples"] > 0


def test_onnxruntime_records_its_threads_without_streams(bench_cli, tmp_path):
    pytest.importorskip("onnxruntime")
    result = bench_cli("run", "--backend", "onnxruntime", *RUN, "--threads", "1", "--output", tmp_path)
    assert result.exit_code == 0, result.output
    ran = only_run(tmp_path)["backend"]
    assert ran["threads"] == 1 and ran["streams"] == 1  # was null before streams


@pytest.mark.parametrize("args, says", [
    (["--backend", "null"], "--streams applies to the torch, torch-compile, onnxruntime and openvino backends only"),
    (["--backend", "torch", "--threads", "1"], "needs at least one thread each"),
    (["--backend", "torch", "--scenario", "single-stream"], "a latency scenario has one query in flight"),
])
def test_streams_refused_where_not_honoured(bench_cli, tmp_path, args, says):
    run = RUN[2:] if "--scenario" in args else RUN
    result = bench_cli("run", *run, *args, "--streams", "2", "--output", tmp_path)
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split()), result.output


def test_torch_records_its_memory_format_choice(bench_cli, tmp_path):
    result = bench_cli("run", "--backend", "torch", *RUN, "--threads", "1", "--output", tmp_path)
    assert result.exit_code == 0, result.output
    choice = only_run(tmp_path)["backend"]["memory_format"]
    timings = choice["ms_per_batch"]
    assert set(timings) == {"contiguous", "channels_last"} and all(t > 0 for t in timings.values())
    # The faster one was chosen.
    assert choice["channels_last"] == (timings["channels_last"] < timings["contiguous"])


def test_torch_memory_format_as_asked():
    import torch

    from bench.backends.memory_format import choose

    model = torch.nn.Conv2d(3, 4, 3).eval()
    assert choose(torch, model, (1, 3, 8, 8), torch.float32, asked=False) == {
        "channels_last": False, "chosen_by": "asked (extra channels_last)", "ms_per_batch": None}
