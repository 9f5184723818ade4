package org.mpkit.core

import java.io.File
import java.io.FileOutputStream
import java.nio.file.Files
import java.nio.file.StandardCopyOption
import org.json.JSONObject

/**
 * Load, source-stage and per-frame times; per-component times inside the runtime, one entry per
 * call. `bridgeMs`: per measured frame, the time its component calls spent outside the runtimes,
 * in the virtual device's tensor bridge (null where components run in the app's process).
 * `audioLatencyMs`: driven by speech, per measured frame, the chunk that completed its window
 * arrived → the frame was ready (null driven by video).
 */
data class StageTimes(
    val loadMs: Double,
    val sourceStageMs: Double,
    val frameMs: List<Double>,
    val componentMs: Map<String, List<Double>>,
    val bridgeMs: List<Double>? = null,
    val audioLatencyMs: List<Double>? = null
) {
    internal fun toJson(): JSONObject = JSONObject()
        .put("load_ms", loadMs).put("source_stage_ms", sourceStageMs)
        .put("frame_ms", json(frameMs)).put("component_ms", json(componentMs))
        .put("bridge_ms", json(bridgeMs)).put("audio_latency_ms", json(audioLatencyMs))

    internal companion object {
        val KEYS = listOf(
            "load_ms",
            "source_stage_ms",
            "frame_ms",
            "component_ms",
            "bridge_ms",
            "audio_latency_ms"
        )

        private fun Fields.doublesOrNull(key: String) =
            if (has(key) && !isNull(key)) doubles(key) else null

        fun read(f: Fields) = f.run {
            only(KEYS)
            StageTimes(
                double("load_ms"),
                double("source_stage_ms"),
                doubles("frame_ms"),
                map("component_ms") { m, k -> m.doubles(k) },
                doublesOrNull("bridge_ms"),
                doublesOrNull("audio_latency_ms")
            )
        }
    }
}

/** One point of a sustained run's curve: FPS over a window ending at `minute`. */
data class SustainedPoint(val minute: Double, val fps: Double, val temperatureC: Double?) {
    internal fun toJson(): JSONObject = JSONObject()
        .put("minute", minute).put("fps", fps).put("temperature_c", json(temperatureC))

    internal companion object {
        val KEYS = listOf("minute", "fps", "temperature_c")

        fun read(f: Fields) = f.run {
            only(KEYS)
            SustainedPoint(double("minute"), double("fps"), doubleOrNull("temperature_c"))
        }
    }
}

enum class RunStatus(val json: String) { OK("ok"), ERROR("error") }

/**
 * What the app writes to `files/bench/<run_id>.json` (protocol version [Protocol.VERSION]).
 * `runtime`, `delegate`, `threads` and `driving` say what really ran, not what was asked.
 */
data class BenchResult(
    val runId: String,
    val status: RunStatus,
    val error: String?,
    val measuredOn: String,
    val runtime: String,
    val delegate: String,
    val threads: Int,
    val driving: String,
    val times: StageTimes?,
    val pssMb: Double?,
    val sustained: List<SustainedPoint> = emptyList(),
    val capturedFrames: List<String> = emptyList(),
    val protocolVersion: Int = Protocol.VERSION
) {
    fun toJson(): JSONObject = JSONObject()
        .put("protocol_version", protocolVersion).put("run_id", runId)
        .put("status", status.json).put("error", json(error)).put("measured_on", measuredOn)
        .put("runtime", runtime).put("delegate", delegate).put("threads", threads)
        .put("driving", driving).put("times", times?.toJson() ?: JSONObject.NULL)
        .put("pss_mb", json(pssMb))
        .put("sustained", json(sustained.map { plain(it.toJson()) }))
        .put("captured_frames", json(capturedFrames))

    /**
     * Writes the result as `<resultsDir>/<run_id>.json`, atomically: a temporary file, synced,
     * renamed into place, so the harness never reads half a result.
     */
    fun write(resultsDir: File): File {
        resultsDir.mkdirs()
        val target = File(resultsDir, "$runId.json")
        val temp = File(resultsDir, ".$runId.json.tmp")
        FileOutputStream(temp).use { out ->
            out.write((toJson().toString(2) + "\n").toByteArray(Charsets.UTF_8))
            out.fd.sync()
        }
        Files.move(temp.toPath(), target.toPath(), StandardCopyOption.ATOMIC_MOVE)
        return target
    }

    companion object {
        val KEYS = listOf(
            "protocol_version", "run_id", "status", "error", "measured_on", "runtime",
            "delegate", "threads", "driving", "times", "pss_mb", "sustained", "captured_frames"
        )
        internal val TIMES_KEYS get() = StageTimes.KEYS
        internal val SUSTAINED_KEYS get() = SustainedPoint.KEYS

        /** Python's schema gives these fields a default; every other one is required. */
        internal val OPTIONAL_KEYS =
            listOf("error", "times", "pss_mb", "sustained", "captured_frames")
        private const val MAX_DEPTH = 64 // a result nests 4 deep

        /** The result in `data`, read from `source`; anything malformed is a ProtocolException. */
        fun parse(data: ByteArray, source: String): BenchResult {
            val obj = parseJsonObject(
                data,
                source,
                "a benchmark result",
                Protocol.MAX_RESULT_BYTES,
                MAX_DEPTH,
                ::ProtocolException
            )
            val version = if (obj.has("protocol_version")) obj.get("protocol_version") else null
            if (version !is Int || version != Protocol.VERSION) {
                throw ProtocolException(
                    "$source: result protocol version ${version ?: "(none)"}; this app reads " +
                        "version ${Protocol.VERSION}: update mpkit or the app so they match"
                )
            }
            return Fields(obj, "", { ProtocolException("$source: $it") }).run {
                only(KEYS)
                val status = string("status").let { s ->
                    RunStatus.entries.firstOrNull { it.json == s }
                        ?: fail("status", "'$s' is not ok or error")
                }
                BenchResult(
                    runId = string("run_id"),
                    status = status,
                    error = if (has("error")) stringOrNull("error") else null,
                    measuredOn = string("measured_on"),
                    runtime = string("runtime"),
                    delegate = string("delegate"),
                    threads = int("threads"),
                    driving = string("driving"),
                    times = if (has("times") &&
                        !isNull("times")
                    ) {
                        StageTimes.read(fields("times"))
                    } else {
                        null
                    },
                    pssMb = if (has("pss_mb")) doubleOrNull("pss_mb") else null,
                    sustained = if (has(
                            "sustained"
                        )
                    ) {
                        objects("sustained").map(SustainedPoint::read)
                    } else {
                        emptyList()
                    },
                    capturedFrames = if (has(
                            "captured_frames"
                        )
                    ) {
                        strings("captured_frames")
                    } else {
                        emptyList()
                    },
                    protocolVersion = version
                )
            }
        }
    }
}
