package org.mpkit.core

import java.io.File
import java.nio.file.Files
import java.nio.file.Paths
import org.json.JSONObject

/**
 * The virtual device's BenchmarkActivity: the app's [BenchmarkRun] on the host JVM, its
 * components and face models run by the tensor bridge (a child process on the host runtimes).
 * EXTRAS is the intent's extras as a JSON object; BUNDLE is where `bundle_dir` is on the host;
 * the bridge also decodes the bundle's sample media (a phone decodes its own). Writes
 * `<run_id>.json` (and its captures) into RESULTS.
 *
 *     java -cp ... org.mpkit.core.HostBenchmarkKt EXTRAS BUNDLE RESULTS BRIDGE_COMMAND...
 */
fun main(args: Array<String>) {
    require(args.size >= 4) { "usage: EXTRAS BUNDLE RESULTS BRIDGE_COMMAND..." }
    val extras = JSONObject(args[0]).let { o -> o.keySet().associateWith { o.get(it) } }
    val bundle = File(args[1]).absoluteFile
    HostDevice(args.drop(3)).use { device ->
        BenchmarkRun.fromExtras(extras, File(args[2]), device) { bundle }
    }
}

/**
 * The virtual device: runners and decoders are the tensor bridge started with `command`, its
 * state is the host's.
 */
private class HostDevice(private val command: List<String>) :
    BenchDevice,
    AutoCloseable {
    private var process: Process? = null
    private var bridge: PipeBridge? = null
    override val measuredOn = "host (virtual device)"

    override fun open(
        bundle: File,
        manifest: Manifest,
        delegate: String?,
        threads: Int
    ): OpenedRunner {
        val (process, bridge) = PipeBridge.start(command)
        this.process = process
        this.bridge = bridge
        val loaded = try {
            bridge.load(bundle.toString(), delegate, threads)
        } catch (e: MpkitException) {
            bridge.close() // the bridge ends; close() waits for it
            throw e
        }
        return OpenedRunner(bridge, loaded.getString("delegate"), bridged = true)
    }

    override fun decode(bundle: File, helper: HelperEntry): List<RgbImage> =
        checkNotNull(bridge) { "decode before open" }.decode(helper.role)

    override fun temperatureC(): Double? = HostState.temperatureC()

    override fun pssMb(): Double? = process?.let { HostState.pssMb(it.pid()) }

    override fun close() {
        process?.waitFor()
    }
}

/**
 * The host's figures where a phone reports its own: the hottest thermal zone, and the PSS of
 * this JVM plus the bridge process that holds the models (one app process on a phone).
 */
private object HostState {
    fun temperatureC(): Double? = File("/sys/class/thermal").listFiles()
        ?.filter { it.name.startsWith("thermal_zone") }
        ?.mapNotNull {
            runCatching { File(it, "temp").readText().trim().toInt() / 1000.0 }.getOrNull()
        }
        ?.maxOrNull()

    fun pssMb(bridgePid: Long): Double? {
        val own = pssKb("self") ?: return null
        val models = pssKb(bridgePid.toString()) ?: return null
        return (own + models) / 1024.0
    }

    private fun pssKb(pid: String): Long? = runCatching {
        Files.readAllLines(Paths.get("/proc/$pid/smaps_rollup"))
            .firstOrNull { it.startsWith("Pss:") }?.split(Regex("\\s+"))?.get(1)?.toLong()
    }.getOrNull()
}
