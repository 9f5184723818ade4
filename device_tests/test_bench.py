"""Deploy, benchmark and report against a device through a real adb server."""

import json

import pytest

from mpkit.bench.protocol import APP_PACKAGE, RESULTS_DIR
from mpkit.bench.report import write_report
from mpkit.bench.runner import BenchSpec, run_bench
from mpkit.bench.store import Store
from mpkit.device import adb as device_lib
from mpkit.device.deploy import deploy
from mpkit.device.errors import CommandFailed, DeviceTimeout, LinkLost
from mpkit.errors import DeviceError

FAST = dict(frames=8, warmup=2, cooldown_s=0, timeout_s=120)


def test_deploy_is_content_addressed_and_verified(app, bundle, tmp_path):
    remote, pushed = deploy(app, bundle)
    assert pushed or remote  # first deploy in this session pushes
    _, pushed_again = deploy(app, bundle)
    assert pushed_again is False
    # Tamper with one file on the device: the next deploy finds and replaces it.
    bad = tmp_path / "face_landmark.tflite"
    bad.write_bytes((bundle / "face_landmark.tflite").read_bytes()[:-10])
    app.push(bad, f"{remote}/face_landmark.tflite")
    _, repaired = deploy(app, bundle)
    assert repaired is True


def test_bench_records_timings_and_is_labelled_host_measured(app, bundle, tmp_path):
    store = Store(tmp_path / "r.sqlite")
    run_id = run_bench(BenchSpec(bundles=[str(bundle)], capture_frames=2, **FAST), [app], store)
    (record,) = store.records([run_id])
    assert record["status"] == "ok" and record["virtual"] == 1
    assert record["measured_on"] == "host (virtual device)"
    times = record["result"]["times"]
    assert len(times["frame_ms"]) == 8 and record["p50_ms"] <= record["p90_ms"] <= record["p99_ms"]
    assert set(times["component_ms"]) >= {"keypoints", "dense_motion", "synthesis", "face_mesh"}
    assert record["fps"] == pytest.approx(1000 / (sum(times["frame_ms"]) / 8))
    assert len(record["result"]["captured_frames"]) == 2
    # On-device quality: the rendered frames match the host's eager float pipeline.
    assert record["quality"]["frames"] == 2 and record["quality"]["psnr_db_min"] >= 40
    out = write_report(store, [run_id], tmp_path / "report.html", "html")
    page = out.read_text()
    assert "not phone figures" in page and "latency_hist.png" in page
    assert (tmp_path / "report_files" / "components.png").stat().st_size > 5000
    assert (tmp_path / "report_files" / "quality.png").stat().st_size > 5000


def test_bench_driven_by_speech_records_audio_latency_and_quality(app, audio_bundle, tmp_path):
    store = Store(tmp_path / "r.sqlite")
    run_id = run_bench(BenchSpec(bundles=[str(audio_bundle)], driving="audio", capture_frames=2,
                                 **FAST), [app], store)
    (record,) = store.records([run_id])
    assert record["status"] == "ok", record.get("error")
    assert record["driving"] == "audio" and record["measured_on"] == "host (virtual device)"
    times = record["result"]["times"]
    assert len(times["frame_ms"]) == len(times["audio_latency_ms"]) == 8
    assert len(times["component_ms"]["audio"]) == 8
    assert times["component_ms"]["keypoints"] == [] and "face_mesh" not in times["component_ms"]
    latency = record["audio_latency"]
    assert 0 < latency["p50_ms"] <= latency["p90_ms"] <= latency["p99_ms"]
    # a frame is ready only after its own components ran: no latency under their time
    work = [sum(times["component_ms"][c][k] for c in ("audio", "dense_motion", "synthesis"))
            for k in range(8)]
    assert all(lat >= w for lat, w in zip(times["audio_latency_ms"], work)), (work, times)
    # the Kotlin speech path renders what mpkit's eager float pipeline renders from the speech
    assert record["quality"]["frames"] == 2 and record["quality"]["psnr_db_min"] >= 40
    page = write_report(store, [run_id], tmp_path / "report.md", "md").read_text()
    assert "audio latency p50 ms" in page and "| audio |" in page


@pytest.mark.virtual_only
def test_interrupted_run_resumes_without_redoing_cells(app, bundle, tmp_path, fleet):
    store = Store(tmp_path / "r.sqlite")
    spec = BenchSpec(bundles=[str(bundle)], repeat=2, **FAST)
    vdev = fleet.running[0].device
    original = vdev.launch_benchmark
    launches = []

    def drop_during_second(extras):
        launches.append(extras)
        if len(launches) == 2:  # the link drops while the second cell waits for its result
            vdev.faults.drop_link_on = "run-as"
        return original(extras)

    vdev.launch_benchmark = drop_during_second
    try:
        with pytest.raises(DeviceError, match="resume with --resume resume-test"):
            run_bench(spec, [app], store, "resume-test")
    finally:
        vdev.launch_benchmark = original
        vdev.faults.drop_link_on = None
    assert [r["status"] for r in store.records(["resume-test"])] == ["ok"]
    fleet.server.connect(app.serial)  # the user plugs the phone back in
    messages = []
    run_bench(spec, [device_lib.connect(app.serial, f"127.0.0.1:{fleet.server.port}")], store,
              "resume-test", progress=messages.append)
    assert sum("already done" in m for m in messages) == 1
    assert sorted(r["repeat"] for r in store.records(["resume-test"])) == [0, 1]


@pytest.mark.virtual_only
def test_app_crash_reports_logcat(app, bundle, tmp_path, fleet):
    fleet.running[0].device.faults.crash_app = True
    with pytest.raises(CommandFailed, match="crashed(.|\n)*FATAL EXCEPTION"):
        run_bench(BenchSpec(bundles=[str(bundle)], **FAST), [app], Store(tmp_path / "r.sqlite"))


@pytest.mark.virtual_only
def test_hung_benchmark_times_out(app, bundle, tmp_path, fleet):
    fleet.running[0].device.faults.crash_app = False
    original = fleet.running[0].device.launch_benchmark
    fleet.running[0].device.launch_benchmark = lambda extras: None  # starts, never finishes
    try:
        spec = BenchSpec(bundles=[str(bundle)], frames=8, warmup=0, cooldown_s=0, timeout_s=3)
        with pytest.raises(DeviceTimeout, match="no result .* after 3 s"):
            run_bench(spec, [app], Store(tmp_path / "r.sqlite"))
    finally:
        fleet.running[0].device.launch_benchmark = original


@pytest.mark.virtual_only
def test_result_from_a_newer_protocol_is_a_clear_error(app, fleet):
    from mpkit.bench.protocol import parse_result

    fleet.running[0].device.write(f"/data/data/{APP_PACKAGE}/{RESULTS_DIR}/new.json",
                                  json.dumps({"protocol_version": 9, "run_id": "x"}).encode())
    text = app.read_app_file(APP_PACKAGE, f"{RESULTS_DIR}/new.json")
    with pytest.raises(DeviceError, match="protocol version 9; this mpkit reads version 2"):
        parse_result(text, "new.json")


@pytest.mark.virtual_only
def test_dropped_link_mid_deploy_is_reported(app, bundle, fleet):
    fleet.running[0].device.faults.drop_link_on = "sha256sum"
    try:
        with pytest.raises(LinkLost):
            deploy(device_lib.connect(app.serial, f"127.0.0.1:{fleet.server.port}"), bundle)
    finally:
        fleet.running[0].device.faults.drop_link_on = None
        fleet.server.connect(app.serial)


def test_sustained_mode_records_an_fps_and_temperature_curve(app, bundle, tmp_path):
    store = Store(tmp_path / "r.sqlite")
    spec = BenchSpec(bundles=[str(bundle)], frames=4, warmup=1, cooldown_s=0, timeout_s=180,
                     sustained_min=0.25)
    run_id = run_bench(spec, [app], store)
    (record,) = store.records([run_id])
    curve = record["result"]["sustained"]
    assert len(curve) >= 4, curve
    minutes = [p["minute"] for p in curve]
    assert minutes == sorted(minutes) and 0 < minutes[-1] <= 0.25 + 0.05
    assert all(p["fps"] > 0 for p in curve)
    # frames keep coming for the whole duration, far more than the 4 asked for
    assert len(record["result"]["times"]["frame_ms"]) > 4 * len(curve)
    out = write_report(store, [run_id], tmp_path / "report.md", "md")
    assert "sustained.png" in out.read_text()
    assert (tmp_path / "report_files" / "sustained.png").stat().st_size > 5000


@pytest.mark.virtual_only
def test_devices_run_in_parallel_one_worker_each(bundle, tmp_path, fleet, connect_virtual,
                                                 stand_in_apk):
    devices = [connect_virtual(i) for i in range(len(fleet.running))]
    for dev in devices:
        dev.install(stand_in_apk)
    started = []
    store = Store(tmp_path / "r.sqlite")
    run_id = run_bench(BenchSpec(bundles=[str(bundle)], repeat=2, **FAST), devices, store,
                       progress=lambda m: started.append(m.split(": ")[0]))
    started = [s for s in started if not s.startswith(f"run {run_id}")]
    records = store.records([run_id])
    assert sorted(r["serial"] for r in records) == sorted([d.serial for d in devices] * 2)
    assert all(r["status"] == "ok" for r in records)
    # both workers started before either started its second cell
    assert set(started[:2]) == {d.serial for d in devices}


@pytest.mark.virtual_only
def test_link_dropped_mid_push_then_redeploy_completes(app, bundle, fleet):
    vdev = fleet.running[0].device
    addr = f"127.0.0.1:{fleet.server.port}"
    remote = f"/data/local/tmp/mpkit/bundles/{bundle.name}-midpush"
    vdev.faults.drop_link_after_bytes = 200_000  # inside the first large file
    try:
        with pytest.raises(LinkLost, match="link lost during push of"):
            device_lib.connect(app.serial, addr).push(bundle / "dense_motion.tflite",
                                                      f"{remote}/dense_motion.tflite")
    finally:
        vdev.faults.drop_link_after_bytes = None
        fleet.server.connect(app.serial)
    assert vdev.resolve(f"{remote}/dense_motion.tflite").exists() is False  # no half file
    dev = device_lib.connect(app.serial, addr)
    deploy(dev, bundle)  # the next deploy pushes and verifies everything
    _, pushed = deploy(dev, bundle)
    assert pushed is False
