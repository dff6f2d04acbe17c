"""Backends declare what they support per device (backends/base.py: Support); the base refuses from it in one
message shape; the option table, `bench backends`, the sweep, sysinfo and the submission tree read it. Adding a
backend is its module and one registry line: nothing else in the packages spells a backend's name."""

from __future__ import annotations

import ast
import re
import threading

import pytest

from bench import backends
from bench.backends import declared
from bench.backends.base import INPUT_FORMS, BackendOptions, device_kind, need_of
from bench.backends.precision import NEEDS
from bench.backends.worker_pool import WorkerPool
from bench.config import run_config as table
from bench.errors import BackendUnavailable
from tests.conftest import FAST_RUN, ROOT, only_run

ALL = backends.names(include_hidden=True)
# One line: backend, what was asked, the device, why, and what it supports there.
SHAPE = re.compile(r"^backend \S+ cannot run( .+)? on \S+: [^\n]+; it supports: [^\n]+$")
# Strings equal to a backend's name that mean something else where they appear (a package, a format, JSON).
NOT_A_BACKEND = {
    ("bench/config/run_config.py", "torch"): "the option table's default backend (`bench run` with no --backend)",
    ("bench/config/run_config.py", "tensorrt"): "--ort-provider's choice: ONNX Runtime's TensorRT execution provider",
    ("bench/models/spec.py", "torch"): "the PyTorch package, and a checkpoint's format",
    ("bench/system/devices.py", "torch"): "the PyTorch module, asked for a GPU's PCI bus id",
    ("bench/record/codec.py", "null"): "JSON's null",
    ("backends/onnxruntime_backend.py", "tensorrt"): "ONNX Runtime's TensorRT execution provider (--ort-provider)",
}


def _own_modules(name: str) -> set[str]:
    """The backend's registry module and the helpers named for it (backends/torch_common.py, tensorrt_engine.py)."""
    module = backends.REGISTRY[name].split(":")[0]
    stem = name.replace("-", "_")
    return {module.replace(".", "/") + ".py"} | {p.relative_to(ROOT).as_posix()
                                                 for p in (ROOT / "backends").glob(f"{stem}_*.py")}


def test_no_module_outside_a_backends_own_names_it():
    """Adding a backend is one module plus one registry line (plus its tests): no other module in the packages may
    spell a backend's name (as a string constant: branching on it, listing it). benchmarks/ and the docs may."""
    found = []
    for path in sorted(p for d in ("bench", "backends", "scenarios") for p in (ROOT / d).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel == "backends/__init__.py":  # the registry
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in backends.REGISTRY \
                    and rel not in _own_modules(node.value) and (rel, node.value) not in NOT_A_BACKEND:
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert not found, "backend names spelled outside their own modules:\n" + "\n".join(found)


@pytest.mark.parametrize("name", ALL)
def test_declaration_is_well_formed_and_agrees_with_the_option_table(name):
    cls = backends.backend_class(name)
    assert cls.SUPPORTS, f"{name} declares no device"
    for kind, support in cls.SUPPORTS.items():
        assert device_kind(kind) == kind
        assert support.precisions and set(support.precisions) <= set(table.PRECISIONS)
        assert set(support.inputs) <= set(INPUT_FORMS)
        for precision, need in support.needs.items():
            assert precision in support.precisions
            assert need in NEEDS if isinstance(need, str) else need_of(support, precision) is need
        for option in support.options:
            o = table.BY_NAME[option]
            assert o.backend_option, f"{name} declares {option}, which is not a backend option of the table"
            assert o.devices is None or kind in o.devices, f"{name} declares {option} on {kind}; it needs {o.devices}"
            assert name in backends.honouring(option)  # "who honours it" is the declaration
    assert cls.model_format in ("torch", "onnx", "none")


def test_who_honours_an_option_is_the_declarations():
    assert backends.honouring("gpu_streams") == tuple(
        n for n in ALL if any("gpu_streams" in s.options for s in backends.backend_class(n).SUPPORTS.values()))
    assert "precision" not in backends.honoured()  # not a backend option: every backend takes it
    assert "channels_last" in table.BY_NAME and table.BY_NAME["channels_last"].backend_option


@pytest.mark.parametrize("name", ALL)
def test_every_refusal_has_the_one_shape(name):
    """Every precision on every device kind any backend knows: refused in one line of one shape, or accepted."""
    cls = backends.backend_class(name)
    kinds = {k for n in ALL for k in backends.backend_class(n).SUPPORTS} | {"cpu"}
    for kind in sorted(kinds):
        for precision in table.PRECISIONS:
            try:
                cls.check_options(BackendOptions(precision=precision, device=kind))
            except BackendUnavailable as exc:
                assert SHAPE.match(str(exc)), str(exc)
                assert f"backend {name} " in str(exc) and f" on {kind}: " in str(exc)


def test_refusal_names_what_runs_there_and_where_the_rest_runs():
    torch = backends.backend_class("torch")
    refused = torch.declared_refusal(BackendOptions(precision="fp16"))
    assert str(refused).startswith("backend torch cannot run precision fp16 on cpu: fp16 only on cuda; it supports:")
    assert torch.declared_refusal(BackendOptions(precision="fp16", device="cuda:1")) is None
    streams_on_gpu = torch.declared_refusal(BackendOptions(device="cuda", extra={"streams": 2}))
    assert "cannot run --streams on cuda" in str(streams_on_gpu) and "--gpu-streams" in str(streams_on_gpu)
    trt = backends.backend_class("tensorrt").declared_refusal(BackendOptions())
    assert str(trt) == "backend tensorrt cannot run on cpu: it declares no such device; it supports: cuda"


def test_sweep_static_check_is_the_declaration():
    from bench.sweep.plan import static_refusal

    assert static_refusal({"backend": "openvino", "precision": "fp16"}) == str(
        backends.backend_class("openvino").declared_refusal(BackendOptions(precision="fp16")))
    assert static_refusal({"backend": "torch", "precision": "bf16"}) is None  # machine-dependent: where it runs


def test_backends_listing_shows_only_what_runs_here(bench_cli, monkeypatch):
    """On a CPU-only machine torch's tf32 and fp16 are not offered as runnable; they are shown as needing CUDA."""
    monkeypatch.setenv("BENCH_CPU_FLAGS", "avx2 fma")  # a CPU without native bf16
    here, elsewhere = declared.precisions_listing(backends.backend_class("torch"), ["cpu"])
    assert here == "fp32"
    assert elsewhere == "bf16: avx512_bf16 or amx_bf16; tf32, fp16: --device cuda"
    here, elsewhere = declared.precisions_listing(backends.backend_class("torch"), ["cpu", "cuda:0"])
    assert here == "fp32, tf32, bf16, fp16" and elsewhere == ""  # with a GPU here, bf16 runs on it
    import bench.cli

    monkeypatch.setattr(bench.cli.out, "width", 200)  # one line a backend, as on a wide terminal
    result = bench_cli("backends", "--all")
    assert result.exit_code == 0 and "amx_bf16" in result.output and "--device" in result.output


def test_worker_pool_lends_and_binds():
    pool = WorkerPool(["a", "b"])
    with pool.use() as first, pool.use() as second:
        assert {first, second} == {"a", "b"}
    with pytest.raises(RuntimeError), pool.use():
        raise RuntimeError("a failed batch still gives the item back")
    assert len(pool) == 2 and {pool.use().__enter__(), pool.use().__enter__()} == {"a", "b"}
    bound = WorkerPool([0, 1])
    seen: list[tuple[int, int]] = []
    threads = [threading.Thread(target=lambda: seen.append((bound.mine(), bound.mine()))) for _ in range(4)]
    for t in threads:
        t.start()
        t.join()
    assert all(a == b for a, b in seen) and sorted(a for a, _ in seen) == [0, 0, 1, 1]  # round-robin, kept


def test_submission_says_exported_to_onnx_only_for_backends_that_run_onnx():
    from bench.mlperf.submission_tree import measurements

    def transformations(backend: str) -> str:
        return measurements({"config": {"backend": backend, "precision": "fp32", "weights": "synthetic"}})[
            "weight_transformations"]

    assert "exported from PyTorch to ONNX" in transformations("onnxruntime")
    assert "ONNX" not in transformations("torch-compile") and "ONNX" not in transformations("torch")


def test_record_lists_the_backends_declared_packages():
    from bench.system import sysinfo

    packages = declared.packages()
    assert "torch" in packages and "onnxruntime" in packages and "tensorrt" in packages
    listed = sysinfo.packages(packages)
    assert "numpy" in listed and "torch" in listed  # the harness's own, and a backend's installed here


def test_a_backend_added_by_its_module_and_one_registry_line(bench_cli, results_dir, monkeypatch):
    """tests/declared_backend.py and one registry line: it runs, honours what it declares, refuses the rest, and
    the option table and `bench backends` know it."""
    monkeypatch.setitem(backends.REGISTRY, "declared", "tests.declared_backend:DeclaredBackend")
    assert "declared" in backends.honouring("streams") and "declared" not in backends.honouring("gpu_streams")
    result = bench_cli("run", "--backend", "declared", "--streams", "2", "--threads", "2", "--output", results_dir,
                       "--model", "resnet18", "--count", "16", "--batch-size", "4", "--duration", "1")
    assert result.exit_code == 0, result.output
    assert only_run(results_dir)["backend"]["streams"] == 2
    refused = bench_cli("run", "--backend", "declared", "--precision", "fp16", "--output", results_dir, *FAST_RUN)
    assert refused.exit_code == 2
    assert "backend declared cannot run precision fp16 on cpu: it has no fp16 on any device; it supports: fp32, " \
           "int8" in " ".join(refused.output.split())
    listing = bench_cli("backends", "--all")
    assert "declared" in listing.output


def test_onnx_file_on_a_backend_that_takes_none_names_those_that_do(bench_cli, results_dir, tmp_path):
    """The input forms are declared: the refusal lists the backends declaring "onnx", from the registry."""
    from tests.test_hostile import _onnx

    model = _onnx(tmp_path / "m.onnx", ["N", 3, 224, 224])
    result = bench_cli("run", "--backend", "null", "--onnx", model, "--count", "8", "--output", results_dir)
    assert result.exit_code == 2
    taking = [n for n in ALL if any("onnx" in s.inputs for s in backends.backend_class(n).SUPPORTS.values())]
    assert taking == ["onnxruntime", "openvino", "tensorrt"]
    assert f"--onnx: backend null runs bench models, not ONNX files; use --backend {' or '.join(taking)}" in \
        " ".join(result.output.split())


def test_each_backends_pip_extra_is_a_pyproject_extra():
    """The one place besides its module and the registry a backend appears: its pyproject extra (install only)."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name in ALL:
        cls = backends.backend_class(name)
        assert not cls.pip_extra or cls.pip_extra in extras, f"{name}: pip install 'bench[{cls.pip_extra}]'"
