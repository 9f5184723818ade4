package org.mpkit.core

import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import org.json.JSONObject

/**
 * The virtual device's BenchmarkActivity: the app's [Benchmark] on the host JVM, its components
 * and face models run by the tensor bridge (a child process on the host runtimes). EXTRAS is the
 * intent's extras as a JSON object; BUNDLE is where `bundle_dir` is on the host; the bridge
 * also decodes the bundle's sample media (a phone decodes its own). Writes `<run_id>.json` (and
 * `<run_id>/frame_NNNN.png` captures) into RESULTS; every failure after the request is read is
 * a result with status "error".
 *
 *     java -cp ... org.mpkit.core.HostBenchmarkKt EXTRAS BUNDLE RESULTS BRIDGE_COMMAND...
 */
fun main(args: Array<String>) {
    require(args.size >= 4) { "usage: EXTRAS BUNDLE RESULTS BRIDGE_COMMAND..." }
    val extras = JSONObject(args[0]).let { o -> o.keySet().associateWith { o.get(it) } }
    val request = BenchRequest.fromExtras(extras)
    val results = File(args[2])
    val result = try {
        hostRun(request, Paths.get(args[1]).toAbsolutePath(), results, args)
    } catch (e: MpkitException) {
        failed(request, e.message ?: e.toString())
    } catch (e: RuntimeException) {
        File(results, "${request.runId}.trace").writeText(e.stackTraceToString())
        failed(request, "${e.javaClass.simpleName}: ${e.message}")
    }
    result.write(results)
}

private const val MEASURED_ON = "host (virtual device)"

private fun failed(request: BenchRequest, error: String) = BenchResult(
    request.runId,
    RunStatus.ERROR,
    error,
    MEASURED_ON,
    "unknown",
    request.delegate,
    request.threads,
    request.driving,
    null,
    null
)

private fun hostRun(
    request: BenchRequest,
    bundle: Path,
    results: File,
    args: Array<String>
): BenchResult {
    val start = System.nanoTime()
    Benchmark.checkDriving(request.driving)
    val manifest = ModelBundle.verify(bundle)
    val (process, bridge) = PipeBridge.start(args.drop(3))
    return bridge.use {
        val loaded = bridge.load(bundle.toString(), request.delegate, request.threads)
        // Only a delegate the bundle was validated for, and the one the host really runs.
        val delegate = manifest.delegate(loaded.getString("delegate"))
        val runner = MeasuredRunner(bridge)
        val benchmark = Benchmark(
            request,
            manifest,
            runner,
            ModelBundle.poseBank(bundle, manifest),
            HostState(process.pid())
        ) { index, image ->
            val name = "${request.runId}/frame_%04d.png".format(index)
            File(results, name).apply { parentFile.mkdirs() }.writeBytes(Png.encode(image))
            name
        }
        val loadMs = (System.nanoTime() - start) / 1e6
        val photo = bridge.decode("sample_source").single()
        val driving = bridge.decode("sample_driving")
        val outcome = benchmark.run(photo, driving, loadMs, bridged = true)
        val status = if (outcome.failure == null) RunStatus.OK else RunStatus.ERROR
        BenchResult(
            request.runId,
            status,
            outcome.failure?.message,
            MEASURED_ON,
            manifest.runtime,
            delegate,
            request.threads,
            request.driving,
            outcome.times,
            outcome.pssMb,
            outcome.sustained,
            outcome.captured
        )
    }.also { process.waitFor() }
}

/**
 * The host's figures where a phone reports its own: the hottest thermal zone, and the PSS of
 * this JVM plus the bridge process that holds the models (one app process on a phone).
 */
private class HostState(private val bridgePid: Long) : DeviceState {
    override fun temperatureC(): Double? = File("/sys/class/thermal").listFiles()
        ?.filter { it.name.startsWith("thermal_zone") }
        ?.mapNotNull {
            runCatching { File(it, "temp").readText().trim().toInt() / 1000.0 }.getOrNull()
        }
        ?.maxOrNull()

    override fun pssMb(): Double? {
        val own = pssKb("self") ?: return null
        val models = pssKb(bridgePid.toString()) ?: return null
        return (own + models) / 1024.0
    }

    private fun pssKb(pid: String): Long? = runCatching {
        Files.readAllLines(Paths.get("/proc/$pid/smaps_rollup"))
            .firstOrNull { it.startsWith("Pss:") }?.split(Regex("\\s+"))?.get(1)?.toLong()
    }.getOrNull()
}
