"""`--delegate gpu` runs LiteRT's real GPU accelerator (on a virtual device: the software Vulkan
device), says so in the record, and the report puts its on-device quality beside the CPU's."""

from mpkit.bench.report import write_report
from mpkit.bench.runner import BenchSpec, run_bench
from mpkit.bench.store import Store
from mpkit.export.bundle import verify
from mpkit.gpu import software


def test_gpu_cells_run_the_accelerator_and_are_compared_with_the_cpu(app, bundle, tmp_path):
    assert verify(bundle).delegates == ["cpu", "gpu"]  # validated for both, so both may run
    store = Store(tmp_path / "r.sqlite")
    spec = BenchSpec(bundles=[str(bundle)], delegates=["cpu", "gpu"], frames=2, warmup=0,
                     capture_frames=2, cooldown_s=0, timeout_s=900)
    run_id = run_bench(spec, [app], store)
    records = {r["delegate"]: r for r in store.records([run_id])}
    cpu, gpu = records["cpu"], records["gpu"]
    assert cpu["status"] == gpu["status"] == "ok", (cpu.get("error"), gpu.get("error"))
    assert gpu["result"]["delegate"] == "gpu" and gpu["result"]["runtime"] == "litert"
    if gpu["virtual"]:
        assert gpu["timing_note"] == software.TIMING_LABEL
        assert gpu["software_gpu"] == software.status().package_version
    assert "timing_note" not in cpu
    for r in (cpu, gpu):
        assert r["quality"]["frames"] == 2 and r["quality"]["psnr_db_min"] > 25
    # The same picture on both paths: the GPU computes what the CPU computes.
    assert abs(gpu["quality"]["psnr_db_min"] - cpu["quality"]["psnr_db_min"]) < 1.0
    text = write_report(store, [run_id], tmp_path / "report.md", "md").read_text()
    assert "## On-device quality per delegate" in text
    assert "cpu: PSNR dB / SSIM" in text and "gpu: PSNR dB / SSIM" in text
    if gpu["virtual"]:
        assert "times are not GPU speed" in text
