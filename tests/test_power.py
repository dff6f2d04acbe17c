"""Power and energy: the arithmetic with made-up readings (the hardware is absent here, the one place a fake is
right), RAPL on a temporary directory laid out like /sys/class/powercap, and a real run's power section."""

from __future__ import annotations

import csv
import itertools
import json
import re

import pytest

from bench.run import power
from bench.run.power import Channel, PowerMonitor, Reading
from bench.run.power_readers import PEAK_AVERAGE, PEAK_INSTANT
from tests.conftest import FAST_RUN, only_run

# ---- recorded readings through the real sampler and writer --------------------------------------------------

START = 1_790_000_000.0  # wall clock of the first reading


def gpu_profile(k: int) -> tuple[float, float]:
    """Recorded GPU watts at 10 Hz: idle 60 W for 1 s (sample loading), 300 W for 2 s (LoadGen's run, with a 450 W
    spike that NVML's 1 s average hides), idle 60 W for 1 s (teardown). Returns (1 s average, instantaneous)."""
    busy = 10 <= k < 30
    return (300.0 if busy else 60.0), (450.0 if k == 20 else 300.0 if busy else 60.0)


def recorded_monitor(run_dir, *, instant: bool = True, with_cpu: bool = False) -> PowerMonitor:
    """A PowerMonitor whose channels replay recorded readings, sampled by its own _sample and written by its own
    write_csv, on a fake clock (41 ticks, 0.1 s apart): what a real NVML + RAPL run leaves, without the hardware."""
    tick = {"k": 0}
    energy = {"gpu0": 5000.0, "package-0": 100.0}

    def gpu() -> Reading:
        average, spike = gpu_profile(tick["k"])
        if tick["k"]:
            energy["gpu0"] += gpu_profile(tick["k"] - 1)[0] * 0.1  # the counter advances by the previous interval
        return Reading(average, energy["gpu0"], spike if instant else None)

    def cpu() -> Reading:
        energy["package-0"] += 20.0 * 0.1 if tick["k"] else 0.0
        return Reading(counter_j=energy["package-0"])

    channels = [Channel("gpu0", "gpu", gpu, info={"cuda_device": "cuda:0",
                                                  "peak": PEAK_INSTANT if instant else PEAK_AVERAGE})]
    if with_cpu:
        channels.append(Channel("package-0", "cpu", cpu, wrap_j=262143.0))
    monitor = PowerMonitor(run_dir, "cuda:0", channels=channels, clock=lambda: tick["k"] * 0.1,
                           wall=lambda: START + tick["k"] * 0.1)
    monitor.source = "nvml"
    monitor._t0 = 0.0
    for k in range(41):
        tick["k"] = k
        monitor._sample()
    monitor.stopped = True
    monitor.write_csv()
    return monitor


LOADGEN_DETAIL = """:::MLLOG {{"key": "power_begin", "value": "{begin}", "time_ms": 8238.854481, "namespace": "mlperf::logging", "event_type": "POINT_IN_TIME", "metadata": {{"is_error": false, "is_warning": false, "file": "loadgen.cc", "line_no": 562}}}}
:::MLLOG {{"key": "power_end", "value": "{end}", "time_ms": 8238.854481, "namespace": "mlperf::logging", "event_type": "POINT_IN_TIME", "metadata": {{"is_error": false, "is_warning": false, "file": "loadgen.cc", "line_no": 564}}}}
"""


def loadgen_time(wall: float) -> str:
    """LoadGen's DateTimeStringForPower: local time, "%m-%d-%Y %H:%M:%S.mmm"."""
    from datetime import datetime

    t = datetime.fromtimestamp(wall)
    return t.strftime("%m-%d-%Y %H:%M:%S.") + f"{t.microsecond // 1000:03d}"


def test_power_window_reads_loadgens_keys_as_wall_clock(tmp_path):
    detail = tmp_path / "mlperf_log_detail.txt"
    detail.write_text(LOADGEN_DETAIL.format(begin=loadgen_time(START + 1.0), end=loadgen_time(START + 3.0)))
    begin, end = power.power_window(detail)
    assert begin == pytest.approx(START + 1.0, abs=1e-3) and end == pytest.approx(START + 3.0, abs=1e-3)
    assert power.power_window(tmp_path / "absent.txt") is None
    detail.write_text(":::MLLOG {}\n")
    assert power.power_window(detail) is None


def test_summary_is_sliced_to_loadgens_window(tmp_path):
    monitor = recorded_monitor(tmp_path)
    whole = monitor.summary(samples=600, duration_s=2.0)  # no detail log: the sampler's window, said so
    assert "no LoadGen" in whole["window"]["from"]
    assert whole["avg_watts"] == pytest.approx((60 * 1 + 300 * 2 + 60 * 1) / 4.0)  # diluted by idle time
    run = tmp_path / "loadgen" / "performance"
    run.mkdir(parents=True)
    (run / "mlperf_log_detail.txt").write_text(LOADGEN_DETAIL.format(begin=loadgen_time(START + 1.0),
                                                                     end=loadgen_time(START + 3.0)))
    out = monitor.summary(samples=600, duration_s=2.0)
    assert out["window"]["from"] == "LoadGen power_begin/power_end"
    assert out["avg_watts"] == pytest.approx(300.0, rel=0.01)  # the counter at the window's ends: 600 J in 2 s
    assert out["energy_j"] == pytest.approx(600.0, rel=0.01) and out["window_s"] == pytest.approx(2.0, abs=0.002)
    assert out["joules_per_sample"] == pytest.approx(1.0, rel=0.01)
    assert out["max_watts"] == 450.0 and out["max_watts_is"] == PEAK_INSTANT  # the spike, instantaneous
    assert out["label"] == "GPU board power (NVML)" and "not wall power" in out["scope"]


def test_without_the_instant_field_the_peak_is_labelled_a_1s_average(tmp_path):
    out = recorded_monitor(tmp_path, instant=False).summary(600, 2.0, window=(START + 1.0, START + 3.0))
    assert out["max_watts"] == 300.0 and out["max_watts_is"] == PEAK_AVERAGE and "1 s average" in PEAK_AVERAGE


def test_cpu_rapl_stands_beside_gpu_power_never_added(tmp_path):
    out = recorded_monitor(tmp_path, with_cpu=True).summary(600, 2.0, window=(START + 1.0, START + 3.0))
    assert out["avg_watts"] == pytest.approx(300.0, rel=0.01)  # the GPU alone
    assert out["cpu_rapl"]["label"] == "CPU package power (RAPL)"
    assert out["cpu_rapl"]["avg_watts"] == pytest.approx(20.0, rel=0.01)
    assert [c["label"] for c in out["channels"]] == ["GPU board power (NVML)", "CPU package power (RAPL)"]


def test_power_csv_round_trip_draws_one_line_per_channel(tmp_path):
    """The real writer's power.csv, read by power.read_csv, drawn by the report's power chart."""
    import pandas as pd

    from bench.report.charts import power_chart

    recorded_monitor(tmp_path, with_cpu=True)
    frame = power.read_csv(tmp_path / "power.csv")
    assert list(frame["channel"].unique()) == ["gpu0", "package-0"]
    gpu = frame[frame["channel"] == "gpu0"]
    assert len(gpu) == 41 and gpu["watts"].max() == 300.0 and gpu["wall_s"].iloc[0] == pytest.approx(START)
    cpu = frame[frame["channel"] == "package-0"]
    assert cpu["watts"].to_numpy() == pytest.approx(20.0)  # RAPL has no watts: from the counter's intervals
    html = power_chart(pd.DataFrame([{"run_dir": str(tmp_path), "label": "run-1"}]))
    names = [json.loads(f'"{name}"') for name in re.findall(r'"name":"((?:[^"\\]|\\.)*)"', html)]
    assert names == ["run-1 · gpu0 · GPU board power (NVML)", "run-1 · package-0 · CPU package power (RAPL)"]


def test_power_csv_is_read_defensively(tmp_path):
    assert power.read_csv(tmp_path / "power.csv") is None  # absent
    (tmp_path / "power.csv").write_text("garbage\x00,\n\"unclosed")
    assert power.read_csv(tmp_path / "power.csv") is None
    (tmp_path / "power.csv").write_text("t_s,device,watts\n0,gpu0,100\n")  # not the sampler's columns
    assert power.read_csv(tmp_path / "power.csv") is None


def test_counter_delta_wraps_and_resets():
    assert power.counter_delta(10.0, 25.0, 100.0) == 15.0
    assert power.counter_delta(90.0, 5.0, 100.0) == 15.0  # wrapped once past the range
    assert power.counter_delta(90.0, 5.0, None) == 5.0  # a 64-bit counter went back: it was reset


def test_energy_from_samples_is_the_trapezoid():
    # 100 W for 1 s then a ramp to 200 W over 1 s: 100 + 150 J.
    assert power.integrate([0.0, 1.0, 2.0], [100.0, 100.0, 200.0]) == pytest.approx(250.0)
    fig = power.channel_figures([0.0, 1.0, 2.0], [Reading(100.0), Reading(100.0), Reading(200.0)], None)
    assert fig["method"] == "samples" and fig["energy_j"] == pytest.approx(250.0) and fig["max_watts"] == 200.0


def test_energy_from_counter_wins_over_samples():
    # The counter says 300 J over 2 s; the (coarse) watts samples would say 250 J: the counter is the truth.
    readings = [Reading(100.0, 1000.0), Reading(100.0, 1120.0), Reading(200.0, 1300.0)]
    fig = power.channel_figures([0.0, 1.0, 2.0], readings, None)
    assert fig["method"] == "counter" and fig["energy_j"] == pytest.approx(300.0)
    assert fig["max_watts"] == 200.0  # peak from the instantaneous samples


def test_counter_wrap_between_readings():
    # RAPL-like: range 262.143 J, no watts; the counter wraps between the 2nd and 3rd readings.
    wrap = 262.143
    readings = [Reading(counter_j=200.0), Reading(counter_j=250.0), Reading(counter_j=37.857)]
    fig = power.channel_figures([0.0, 0.5, 1.0], readings, wrap)
    assert fig["energy_j"] == pytest.approx(50.0 + 50.0)
    assert fig["max_watts"] == pytest.approx(100.0)  # from counter intervals: 50 J / 0.5 s


def test_per_sample_figures():
    fig = power.figures(energy_j=500.0, window_s=10.0, samples=2000, duration_s=10.0)
    assert fig["avg_watts"] == pytest.approx(50.0)
    assert fig["samples_per_second_per_watt"] == pytest.approx(200 / 50)
    assert fig["joules_per_sample"] == pytest.approx(50 / 200)
    assert power.figures(500.0, 10.0, None, None)["joules_per_sample"] is None


def test_throttle_reason_names():
    assert power.throttle_reasons(0x4 | 0x40) == ["sw_power_cap", "hw_thermal"]
    assert power.throttle_reasons(0) == []


def fake_gpu(name: str, watts: float) -> Channel:
    """A GPU that draws `watts` constantly; its energy counter advances by the real elapsed time."""
    import time

    t0 = time.perf_counter()
    return Channel(name, "gpu", lambda: Reading(watts, 5000.0 + watts * (time.perf_counter() - t0)),
                   state=lambda: {"sm_clock_mhz": 1980, "temperature_c": 40, "throttle_reasons": []},
                   info={"name": "Fake GPU", "cuda_device": f"cuda:{name[-1]}"})


def test_sampler_thread_two_gpus_and_power_csv(tmp_path):
    monitor = PowerMonitor(tmp_path, "cuda:0,1", channels=[fake_gpu("gpu0", 300.0), fake_gpu("gpu1", 100.0)])
    monitor.start()
    import time

    time.sleep(0.6)
    monitor.stop()
    out = monitor.summary(samples=1200, duration_s=0.6)
    assert out["available"] and out["source"] == "injected"
    assert out["avg_watts"] == pytest.approx(400.0, rel=0.02)
    assert out["max_watts"] == pytest.approx(400.0)
    assert out["energy_j"] == pytest.approx(400.0 * out["window_s"], rel=0.02)
    assert out["sample_rate_hz"] >= 10
    assert [c["channel"] for c in out["channels"]] == ["gpu0", "gpu1"]
    assert out["channels"][0]["method"] == "counter"
    assert out["channels"][0]["avg_watts"] == pytest.approx(300.0, rel=0.02)
    assert out["channels"][1]["state_start"]["sm_clock_mhz"] == 1980
    assert out["samples_per_second_per_watt"] == pytest.approx(2000 / 400, rel=0.02)
    per_device = [{"device": "cuda:0", "samples_per_second": 1500.0}, {"device": "cuda:1", "samples_per_second": 500.0}]
    channels = monitor.summary(1200, 0.6, per_device)["channels"]
    assert channels[0]["samples_per_second_per_watt"] == pytest.approx(1500 / 300, rel=0.02)
    assert channels[1]["samples_per_second_per_watt"] == pytest.approx(500 / 100, rel=0.02)
    rows = list(csv.DictReader((tmp_path / "power.csv").open()))
    assert {r["channel"] for r in rows} == {"gpu0", "gpu1"} and len(rows) == 2 * out["readings"]


def test_a_reader_that_breaks_never_fails_the_run(tmp_path):
    calls = itertools.count()

    def read():
        if next(calls) > 2:
            raise OSError("device fell off the bus")
        return Reading(50.0)

    monitor = PowerMonitor(tmp_path, "cuda:0", channels=[Channel("gpu0", "gpu", read)], interval_s=0.01)
    monitor.start()
    import time

    time.sleep(0.1)
    monitor.stop()
    out = monitor.summary(100, 1.0)
    assert out["available"] is False and "device fell off the bus" in out["reason"]


def make_powercap(root, zones: dict[str, tuple[str, int, int]]):
    """Lay out powercap's files: zone dir -> (name, energy_uj, max_energy_range_uj)."""
    for zone, (name, energy, wrap) in zones.items():
        d = root / zone
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        (d / "energy_uj").write_text(f"{energy}\n")
        (d / "max_energy_range_uj").write_text(f"{wrap}\n")


def test_rapl_reads_packages_only_and_handles_wrap(tmp_path):
    root = tmp_path / "powercap"
    wrap = 262_143_328_850
    make_powercap(root, {
        "intel-rapl:0": ("package-0", wrap - 1_000_000, wrap),  # 1 J before wrapping
        "intel-rapl:0:0": ("core", 5, wrap),  # a subzone: part of package-0, never added again
        "intel-rapl:1": ("package-1", 10_000_000, wrap),
        "intel-rapl:2": ("psys", 10, wrap),  # the whole SoC: would double count the packages
    })
    channels, reason = power.rapl_channels(root)
    assert reason == "" and [c.name for c in channels] == ["package-0", "package-1"]
    assert channels[0].wrap_j == pytest.approx(wrap / 1e6)

    ticks = iter([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    monitor = PowerMonitor(tmp_path, "cpu", channels=channels, clock=lambda: next(ticks), wall=lambda: next(ticks),
                           interval_s=10)
    monitor.source = "rapl"
    monitor._t0 = 0.0
    monitor._sample()  # t=0
    (root / "intel-rapl:0" / "energy_uj").write_text("29000000\n")  # wrapped: 1 J + 29 J = 30 J
    (root / "intel-rapl:1" / "energy_uj").write_text("30000000\n")  # 20 J
    monitor._sample()  # t=1
    (root / "intel-rapl:0" / "energy_uj").write_text("39000000\n")  # 10 J
    (root / "intel-rapl:1" / "energy_uj").write_text("40000000\n")  # 10 J
    monitor._sample()  # t=2
    monitor.stopped = True
    out = monitor.summary(samples=100, duration_s=2.0)
    assert out["available"] and out["energy_j"] == pytest.approx(70.0)
    assert out["avg_watts"] == pytest.approx(35.0)
    assert out["max_watts"] == pytest.approx(50.0)  # 30 W + 20 W in the first second
    assert out["joules_per_sample"] == pytest.approx(0.7)
    assert "CPU package" in out["scope"]


def test_rapl_absent_or_unreadable_says_why(tmp_path):
    assert "does not exist" in power.rapl_channels(tmp_path / "nothing")[1]
    root = tmp_path / "powercap"
    make_powercap(root, {"intel-rapl:0": ("package-0", 1, 10)})
    (root / "intel-rapl:0" / "energy_uj").unlink()
    (root / "intel-rapl:0" / "energy_uj").mkdir()  # unreadable as a file, even for root
    channels, reason = power.rapl_channels(root)
    assert channels == [] and "not readable" in reason
    out = PowerMonitor(tmp_path, "cpu", powercap_root=root).summary(10, 1.0)
    assert out["available"] is False and "not readable" in out["reason"]


def test_gpu_power_without_a_driver_says_why(tmp_path):
    pytest.importorskip("pynvml", reason="nvidia-ml-py is not installed")
    try:
        import pynvml

        pynvml.nvmlInit()
        pytest.skip("an NVIDIA driver is present: this test is about machines without one")
    except pynvml.NVMLError:
        pass
    out = PowerMonitor(tmp_path, "cuda:0").summary(10, 1.0)
    assert out["available"] is False and "NVML" in out["reason"]


def test_a_real_cpu_run_fills_the_power_section(bench_cli, results_dir):
    result = bench_cli("run", "--backend", "onnxruntime", "--scenario", "offline", *FAST_RUN,
                       "--output", results_dir)
    assert result.exit_code == 0, result.output
    record = only_run(results_dir)
    section = record["power"]
    assert set(section) >= {"available", "reason", "source", "avg_watts", "energy_j", "joules_per_sample",
                            "samples_per_second_per_watt"}
    begin, end = power.power_window(results_dir / record["run_id"] / "loadgen" / "performance" /
                                    "mlperf_log_detail.txt")  # LoadGen's real keys parse, spanning the run
    assert 0 < end - begin < 60
    if section["available"]:  # a machine with readable RAPL
        assert section["source"] == "rapl" and section["avg_watts"] > 0
        assert (results_dir / record["run_id"] / "power.csv").is_file()
    else:
        assert section["reason"]
