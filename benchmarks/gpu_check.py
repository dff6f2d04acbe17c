"""The GPU check: one script a lent GPU machine runs in under 8 minutes; one JSON and a Markdown section out.

Parts (described in docs/gpu-results.md), each in a child process with its own time budget: a crash, a hang or
an exception costs that part, never the rest; each records ok / partial / failed / skipped and why.

    python benchmarks/gpu_check.py --json $OUT/gpu-check.json --markdown $OUT/gpu-check.md
    python benchmarks/gpu_check.py --dry-run     # here, no GPU: GPU parts skip with the reason, plumbing on the CPU

docs/gpu-results.md holds the device command and the results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from gpu_verdicts import cadence, exit_code, verdict  # beside this script, which Python puts first on sys.path

ROOT = Path(__file__).resolve().parent.parent

PARTS = {"env": 20, "nvml_cadence": 25, "power_monitor": 25, "first_second": 60, "compile_threads": 80,
         "pytest_gpu": 80, "scenarios": 240}  # seconds each; 530 in all, under 9 minutes with start-up
GRACE_S = 5
GPU_TESTS = ["tests/test_gpu.py", "tests/test_power.py", "tests/test_tensorrt.py"]


def _no_gpu() -> str | None:
    import torch

    return None if torch.cuda.is_available() else "no CUDA GPU here (torch.cuda.is_available() is False)"


def _load(seconds: float) -> None:
    """A steady fp16 matmul load on cuda:0 for `seconds`."""
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    end = time.time() + seconds
    while time.time() < end:
        for _ in range(10):
            a @ a
        torch.cuda.synchronize()


def part_env() -> dict:
    import torch

    out = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda}
    if torch.cuda.is_available():
        out.update(gpu=torch.cuda.get_device_name(0), gpus=torch.cuda.device_count())
        from bench.system.devices import gpu_identity

        out.update(gpu_identity(0))
    return out


def part_nvml_cadence() -> dict:
    import pynvml

    from bench.run.power_readers import instant_watts

    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    rows, stop = [], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rows.append((time.time(), pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0, instant_watts(pynvml, handle),
                         pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _load(3.0)
    stop.set()
    sampler.join()

    span = rows[-1][0] - rows[0][0]
    return {"reads": len(rows), "span_s": round(span, 2), "power_usage": cadence(rows, 1, "W"),
            "power_instant": cadence(rows, 2, "W"), "instant_available": rows[0][2] is not None,
            "energy_counter": cadence(rows, 3, "J")}  # joules: never a max_w


def part_power_monitor(tmp: Path) -> dict:
    import pynvml

    from bench.run.power import PowerMonitor

    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    monitor = PowerMonitor(tmp, "cuda:0")
    monitor.start()
    time.sleep(1.0)  # idle before the window, as LoadGen's sample loading is
    begin, e0 = time.time(), pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    _load(3.0)
    end, e1 = time.time(), pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    time.sleep(1.0)
    monitor.stop()
    sliced = monitor.summary(None, None, window=(begin, end))
    whole = monitor.summary(None, None, window=(0.0, 1e12))
    return {"counter_avg_w": round((e1 - e0) / 1000.0 / (end - begin), 1),
            "monitor_sliced_avg_w": sliced.get("avg_watts"), "monitor_unsliced_avg_w": whole.get("avg_watts"),
            "max_watts": sliced.get("max_watts"), "max_watts_is": sliced.get("max_watts_is"),
            "sample_rate_hz": sliced.get("sample_rate_hz"), "label": sliced.get("label"),
            "cpu_rapl": sliced.get("cpu_rapl"), "reason": sliced.get("reason")}


def part_first_second() -> dict:
    import numpy as np

    from bench.backends import BackendOptions
    from bench.backends.torch_backend import TorchBackend
    from bench.models import resolve

    backend = TorchBackend()
    backend.load(resolve("resnet50"), BackendOptions(device="cuda", precision="fp16", batch_size=128))
    sizes = [1, 2, 3, 4, 7, 8, 16, 31, 32, 64, 127, 128]
    batches = {n: np.random.default_rng(n).standard_normal((n, 3, 224, 224), dtype=np.float32) for n in sizes}

    def timed(n: int) -> float:
        start = time.perf_counter()
        backend.predict(batches[n])
        backend.synchronize()
        return round(1000 * (time.perf_counter() - start), 2)

    cold = {n: timed(n) for n in sizes}  # the warm-up: the first call of each size (cuDNN searches here)
    after = {n: (timed(n), timed(n)) for n in sizes}  # after warm-up: first and second call
    return {"model": "resnet50 fp16", "cold_ms": cold,
            "after_warmup_ms": {n: {"first": a, "second": b} for n, (a, b) in after.items()},
            "retuned_after_warmup": [n for n, (a, b) in after.items() if a > 3 * b + 1.0]}


def part_compile_threads(save) -> dict:
    import numpy as np

    from bench.backends import BackendOptions
    from bench.backends.torch_compile_backend import TorchCompileBackend
    from bench.models import resolve

    out = {}
    for mode in ("reduce-overhead", "max-autotune"):
        start = time.perf_counter()
        backend = TorchCompileBackend()
        backend.load(resolve("resnet18"), BackendOptions(device="cuda", precision="fp16", batch_size=8,
                                                         extra={"compile_mode": mode}))
        errors, shapes = [], []

        def call(n: int, backend=backend, shapes=shapes, errors=errors) -> None:  # this mode's, not the last
            try:
                for _ in range(5):
                    shapes.append(backend.predict(np.zeros((n, 3, 224, 224), np.float32)).shape[0])
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

        workers = [threading.Thread(target=call, args=(n,)) for n in (8, 3, 1, 8)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        out[mode] = {"ok": not errors and len(shapes) == 20, "errors": errors[:3],
                     "compile_s": round(backend.compile_s, 1), "total_s": round(time.perf_counter() - start, 1)}
        backend.close()
        save(out)  # max-autotune may outlast the budget: what finished is kept
    return out


def part_pytest_gpu(budget: float) -> dict:
    # max-autotune's compile takes minutes: compile_threads covers it.
    command = [sys.executable, "-m", "pytest", "-v", "-rfE", "-m", "gpu", "-k", "not max-autotune", "-p",
               "no:cacheprovider", *GPU_TESTS]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget, cwd=ROOT)
        text, code = done.stdout, done.returncode
    except subprocess.TimeoutExpired as exc:  # what finished still counts
        text = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        code = f"timed out after {budget:.0f} s"
    lines = text.strip().splitlines()
    results = [line.split(" ")[0].split("::")[-1] + " " + line.split(" ")[1] for line in lines
               if "::" in line and any(w in line for w in ("PASSED", "FAILED", "SKIPPED", "ERROR"))]
    return {"exit": code, "summary": lines[-1] if lines else "", "tests": results[:40],
            "failures": [line[:400] for line in lines if line.startswith(("FAILED", "ERROR", "E "))][:15]}


def part_scenarios(budget: float, dry_run: bool, out_dir: Path) -> dict:
    from benchmarks import gpu_suite

    deadline = time.time() + budget
    device, precision, model = ("cpu", "fp32", "resnet18") if dry_run else ("cuda", "fp16", "resnet50")
    rows = []
    for backend in ("torch",) if dry_run else ("torch", "torch-compile"):
        for scenario in ("offline",) if dry_run else ("offline", "server", "single-stream", "multi-stream"):
            left = deadline - time.time()
            if left < 20:
                rows.append({"backend": backend, "scenario": scenario, "valid": "skipped: out of time"})
                continue
            args = argparse.Namespace(model=model, device=device, precision=precision, max_batch=128,
                                      count=64 if dry_run else 1024, duration=1.0 if dry_run else 3.0,
                                      output=out_dir / "runs", timeout=int(left))
            record = gpu_suite.run_one(args, backend, [], scenario)
            rows.append(gpu_suite.row(backend, [], scenario, record))
    return {"device": device, "precision": precision, "model": model, "rows": rows,
            "markdown": gpu_suite.markdown(rows)}


def run_part(name: str, args) -> dict:
    """One part in a child process, cut at its budget; the result or why there is none."""
    budget = PARTS[name]
    if args.dry_run and name not in ("env", "scenarios"):
        return {"status": "skipped", "reason": "--dry-run: " + (_no_gpu() or "asked to skip GPU parts")}
    if not args.dry_run and name != "env" and _no_gpu():
        return {"status": "skipped", "reason": _no_gpu()}
    out = args.work / f"{name}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--part", name, "--part-out", str(out), "--work", str(args.work)]
    command += ["--dry-run"] if args.dry_run else []
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget + GRACE_S, cwd=ROOT)
    except subprocess.TimeoutExpired:
        partial = json.loads(out.read_text()) if out.is_file() else {}
        return {"status": "partial" if partial else "failed", "reason": f"over its {budget} s budget", "s": budget,
                **partial}
    seconds = round(time.perf_counter() - start, 1)
    if done.returncode != 0 or not out.is_file():
        return {"status": "failed", "reason": (done.stderr or done.stdout)[-1500:], "s": seconds}
    result = json.loads(out.read_text())
    why = verdict(name, result)  # the part's own verdict: a child that reports failures has not passed
    return {"status": "failed" if why else "ok", "s": seconds, **({"reason": why} if why else {}), **result}


def child(name: str, args) -> None:
    budget = PARTS[name]
    def save(value: dict) -> None:
        args.part_out.write_text(json.dumps(value, default=str))

    calls = {"env": part_env, "nvml_cadence": part_nvml_cadence, "power_monitor": lambda: part_power_monitor(args.work),
             "first_second": part_first_second, "compile_threads": lambda: part_compile_threads(save),
             "pytest_gpu": lambda: part_pytest_gpu(budget), "scenarios": lambda: part_scenarios(budget - 10,
                                                                                                args.dry_run, args.work)}
    save(calls[name]())


def markdown(result: dict) -> str:
    env = result["parts"]["env"]
    lines = [(f"### {result['date']} · {env.get('gpu') or 'no GPU'} · driver {env.get('driver', '-')} · "
              f"torch {env.get('torch', '-')} (CUDA {env.get('cuda', '-')}) · {result['total_s']} s"), "",
             f"Verdict: {result.get('verdict', '-')}", "", "| part | status | s | result |", "|---|---|---|---|"]
    for name, part in result["parts"].items():
        body = {k: v for k, v in part.items() if k not in ("status", "s", "reason", "markdown", "rows")}
        text = part.get("reason") or json.dumps(body, default=str)
        lines.append(f"| {name} | {part['status']} | {part.get('s', '')} | {text.replace('|', '/')[:600]} |")
    scenarios = result["parts"].get("scenarios", {})
    if scenarios.get("markdown"):
        lines += ["", f"Scenarios ({scenarios['model']} {scenarios['precision']} on {scenarios['device']}):", "",
                  scenarios["markdown"]]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="skip the GPU parts (with the reason)")
    parser.add_argument("--json", type=Path, default=ROOT / "results" / "gpu-check.json")
    parser.add_argument("--markdown", type=Path, default=ROOT / "results" / "gpu-check.md")
    parser.add_argument("--work", type=Path, default=ROOT / "results" / "gpu-check-work")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--part-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.part:
        child(args.part, args)
        return 0
    start = time.perf_counter()
    result = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "dry_run": args.dry_run, "parts": {}}
    for name in PARTS:
        result["parts"][name] = run_part(name, args)
        print(f"{name}: {result['parts'][name]['status']} ({result['parts'][name].get('s', 0)} s)", flush=True)
    result["total_s"] = round(time.perf_counter() - start, 1)
    # 0 only when every part's own verdict holds; 2 when no GPU was checked (here, or --dry-run); else 1.
    code, result["verdict"] = exit_code(result, "--dry-run skipped the GPU parts" if args.dry_run else _no_gpu())
    for path in (args.json, args.markdown):
        path.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, default=str))
    args.markdown.write_text(markdown(result))
    print(markdown(result))
    print(f"gpu_check: {result['verdict']} (exit {code})", file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    sys.exit(main())
