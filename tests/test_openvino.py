"""OpenVINO backend: each scenario through real LoadGen, pinned f32 precision, agreement with torch, concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("openvino", reason="OpenVINO is not installed: pip install 'bench[openvino]'")

from bench.backends.precision import native_bf16  # noqa: E402
from bench.system.sysinfo import real_cpu_flags  # noqa: E402
from tests.backend_helpers import cosine, loaded, real_images  # noqa: E402
from tests.conftest import FAST_RUN, only_run  # noqa: E402

SHORT_SERVER_CONF = "*.Server.min_query_count = 24\n"


@pytest.mark.parametrize("scenario", ["offline", "server", "single-stream"])
def test_scenario_end_to_end(bench_cli, results_dir, tmp_path, scenario):
    args = ["run", "--backend", "openvino", "--scenario", scenario, "--output", results_dir, *FAST_RUN]
    if scenario == "server":
        conf = tmp_path / "user.conf"
        conf.write_text(SHORT_SERVER_CONF)
        args += ["--user-conf", conf, "--target-qps", "10", "--latency-bound-ms", "5000"]
    result = bench_cli(*args)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    assert record["status"] == "complete"
    assert record["performance"]["samples"] > 0
    if scenario != "server":  # a 1-second Server run on a shared 2-core machine may miss LoadGen's checks
        assert record["performance"]["loadgen_validity"] == "VALID"
    info = record["backend"]
    assert info["name"] == "openvino" and info["device"] == "CPU"
    assert info["precision"] == "fp32" and info["inference_precision"] == "f32"
    # The backend is given the largest batch the scenario issues: SingleStream issues one sample per query.
    assert info["threads"] == 1 and info["batch_size"] == (1 if scenario == "single-stream" else 4)
    hint = "LATENCY" if scenario == "single-stream" else "THROUGHPUT"
    assert info["performance_hint"].endswith(hint)
    assert info["streams"] >= 1 and info["infer_requests"] >= 1
    # Two requests per stream in the throughput scenarios: one queued while a worker's Python runs.
    assert info["in_flight"] == (1 if scenario == "single-stream" else 2 * info["infer_requests"])


def test_fp32_really_runs_f32():
    """Read back from the compiled model; on a bf16 CPU OpenVINO's own default would have been bf16."""
    import openvino as ov
    import openvino.properties.hint as hints

    backend = loaded("openvino")
    assert backend.compiled.get_property(hints.inference_precision) == ov.Type.f32
    # The hint is what keeps it f32: without it a bf16 CPU runs the same model in bf16. OpenVINO reads the real
    # ISA, so this asks the real flags, never those a test-only BENCH_CPU_FLAGS leaves visible.
    if native_bf16(real_cpu_flags()):
        core = ov.Core()
        default = core.compile_model(core.read_model(str(backend.path)), "CPU")
        assert default.get_property(hints.inference_precision) == ov.Type.bf16


def test_fp32_agrees_with_torch_on_real_images():
    images = real_images()
    reference = loaded("torch", batch_size=len(images)).logits(images)
    ours = loaded("openvino", batch_size=len(images)).logits(images)
    assert len(set(reference.argmax(1))) > 1, "the check would be vacuous: torch gives one class for every image"
    agreement = float((ours.argmax(1) == reference.argmax(1)).mean())
    assert agreement >= 0.99
    assert cosine(ours, reference).min() > 0.9999


def test_concurrent_predicts_answer_each_their_own_batch():
    """Worker threads share a pool of infer requests: each call must get its own batch's answer, not a neighbour's."""
    backend = loaded("openvino", threads=None, batch_size=4)
    assert backend.concurrency == 2 * backend.requests >= 2
    images = real_images(16)
    batches = [images[i:i + 4] for i in range(0, 16, 4)] * 3
    expected = [backend.logits(b) for b in batches]
    with ThreadPoolExecutor(max(2, backend.concurrency)) as pool:
        got = list(pool.map(backend.logits, batches))
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)


def test_batch_beyond_the_bound_raises_instead_of_hanging():
    backend = loaded("openvino", batch_size=2)
    with pytest.raises(ValueError, match="larger than"):
        backend.predict(real_images(3))
