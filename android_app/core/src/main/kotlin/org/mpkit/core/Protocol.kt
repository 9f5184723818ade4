package org.mpkit.core

/**
 * The benchmark protocol between the harness and the app, as python_tools/mpkit/bench/
 * protocol.py defines it: intent extras in, a versioned result JSON out under the app's files
 * folder (`files/bench/<run_id>.json`, read back with run-as).
 */
object Protocol {
    /** 2: `times.audio_latency_ms` (speech driving). */
    const val VERSION = 2
    const val APP_PACKAGE = "org.mpkit.bench"
    const val BENCH_ACTIVITY = "$APP_PACKAGE/.BenchmarkActivity"
    const val RESULTS_DIR = "files/bench"

    /** Where `mpkit deploy` pushes bundles (readable by the app, see deploy.py). */
    const val DEPLOYED_BUNDLES = "/data/local/tmp/mpkit/bundles"
    const val MAX_RESULT_BYTES = 16 * 1024 * 1024
    const val MEASURED_ON_DEVICE = "device"
    val DELEGATES = listOf("cpu", "xnnpack", "gpu", "nnapi", "vulkan", "qnn")
    val DRIVING_MODES = listOf("synthetic", "video", "audio")
}

/** The `am start` flag that carries an extra, and the JSON type of its value. */
enum class ExtraType(val flag: String) { STRING("--es"), INT("--ei"), FLOAT("--ef") }

/** One intent extra: its type, default (null: required), lower bound, pattern or choices. */
class Extra(
    val name: String,
    val type: ExtraType,
    val default: Any? = null,
    val min: Number? = null,
    val pattern: String? = null,
    val choices: List<String>? = null
) {
    /** `raw` (an extra's value as Android delivers it) checked and converted; errors name it. */
    internal fun check(raw: Any): Any {
        val value: Any = when (type) {
            ExtraType.STRING -> raw as? String

            ExtraType.INT -> when (raw) {
                is Int -> raw

                is Long, is Short, is Byte -> (raw as Number).toLong()
                    .takeIf { it in Int.MIN_VALUE..Int.MAX_VALUE }?.toInt()

                else -> null
            }

            ExtraType.FLOAT -> (raw as? Number)?.toDouble()?.takeIf { it.isFinite() }
        }
            ?: throw bad(
                "expected ${describe()} (${type.flag}), got ${raw.javaClass.simpleName} $raw"
            )
        if (min != null && (value as Number).toDouble() < min.toDouble()) {
            throw bad("$value is below the minimum $min")
        }
        if (pattern != null && !Regex(pattern).matches(value as String)) {
            throw bad("'$value' does not match $pattern")
        }
        if (choices != null && value !in choices) {
            throw bad("'$value' is not one of ${choices.joinToString()}")
        }
        return value
    }

    private fun describe() = when (type) {
        ExtraType.STRING -> "a string"
        ExtraType.INT -> "an integer"
        ExtraType.FLOAT -> "a finite number"
    }

    internal fun bad(why: String) = ProtocolException("extra $name: $why")
}

/** What the harness asks the benchmark activity to run (one field per intent extra; defaults
 * and ranges are in [EXTRAS]). */
data class BenchRequest(
    val runId: String,
    val bundleDir: String,
    val delegate: String,
    val frames: Int,
    val warmup: Int,
    val threads: Int,
    val driving: String,
    val sustainedMin: Double,
    val captureFrames: Int
) {
    /** The extras that ask for this request, by name (as `am start` would deliver them). */
    fun toExtras(): Map<String, Any> = linkedMapOf(
        "run_id" to runId, "bundle_dir" to bundleDir, "delegate" to delegate,
        "frames" to frames, "warmup" to warmup, "threads" to threads, "driving" to driving,
        "sustained_min" to sustainedMin, "capture_frames" to captureFrames
    )

    companion object {
        val EXTRAS = listOf(
            Extra("run_id", ExtraType.STRING, pattern = "^[A-Za-z0-9_.-]+$"),
            Extra("bundle_dir", ExtraType.STRING),
            Extra("delegate", ExtraType.STRING, "cpu", choices = Protocol.DELEGATES),
            Extra("frames", ExtraType.INT, 60, min = 1),
            Extra("warmup", ExtraType.INT, 5, min = 0),
            Extra("threads", ExtraType.INT, 2, min = 1),
            Extra("driving", ExtraType.STRING, "video", choices = Protocol.DRIVING_MODES),
            Extra("sustained_min", ExtraType.FLOAT, 0.0, min = 0),
            Extra("capture_frames", ExtraType.INT, 0, min = 0)
        )

        /**
         * The request in `extras` (an Intent's extras as a map). A missing required extra,
         * an unknown extra, a wrong type or an out-of-range value is a ProtocolException.
         */
        fun fromExtras(extras: Map<String, Any?>): BenchRequest {
            val known = EXTRAS.associateBy { it.name }
            extras.keys.sorted().firstOrNull { it !in known }?.let {
                throw ProtocolException(
                    "unknown extra $it; the benchmark takes ${known.keys.joinToString()}"
                )
            }
            val v = EXTRAS.associate { extra ->
                val raw = extras[extra.name] ?: extra.default ?: throw extra.bad(
                    "missing (pass it with am start ${extra.type.flag} ${extra.name} VALUE)"
                )
                extra.name to extra.check(raw)
            }
            return BenchRequest(
                runId = v.getValue("run_id") as String,
                bundleDir = v.getValue("bundle_dir") as String,
                delegate = v.getValue("delegate") as String,
                frames = v.getValue("frames") as Int,
                warmup = v.getValue("warmup") as Int,
                threads = v.getValue("threads") as Int,
                driving = v.getValue("driving") as String,
                sustainedMin = v.getValue("sustained_min") as Double,
                captureFrames = v.getValue("capture_frames") as Int
            )
        }
    }
}
