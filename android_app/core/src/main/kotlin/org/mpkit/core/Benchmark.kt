package org.mpkit.core

/**
 * A [ComponentRunner] that keeps, per component, the time each call spent inside the runtime,
 * and the time around it that was not (a bridge's transfer, an adapter's copies).
 */
class MeasuredRunner(private val inner: ComponentRunner) : ComponentRunner by inner {
    val runtimeMs = mutableMapOf<String, MutableList<Double>>()
    var outsideMs = 0.0
        private set

    override fun run(component: String, inputs: List<Tensor>): List<Tensor> {
        val start = System.nanoTime()
        val outputs = inner.run(component, inputs)
        val wall = (System.nanoTime() - start) / 1e6
        runtimeMs.getOrPut(component) { mutableListOf() } += inner.lastRuntimeMs
        outsideMs += (wall - inner.lastRuntimeMs).coerceAtLeast(0.0)
        return outputs
    }

    /** Runtime ms of `components` since the last [reset], summed. */
    fun total(components: Collection<String>): Double =
        components.sumOf { runtimeMs[it]?.sum() ?: 0.0 }

    fun reset() {
        runtimeMs.clear()
        outsideMs = 0.0
    }
}

/** What the device says about itself during a run; null where it has no figure. */
interface DeviceState {
    fun temperatureC(): Double?

    fun pssMb(): Double?
}

/**
 * The benchmark activity's run (python_tools/mpkit/bench/protocol.py is the harness's side):
 * the source stage once, then `warmup` + `frames` frame-stage frames (repeated as needed; a
 * sustained run goes on until `sustained_min` has passed, with an FPS and temperature point per
 * minute, six points for runs under six minutes), driven by the sample video's frames or by the
 * sample speech. Component times are the runtime's own; `face_mesh` is the face models' time
 * per video frame (the detector too when the face was lost). Driven by speech, each frame's
 * audio latency is kept: the chunk that completed its window arrived → the frame was ready
 * (chunks of [SPEECH_CHUNK_MS] fed as soon as the frames before them are done, not at
 * recording pace). Captured frames go through `capture`, which returns their result-relative
 * names.
 */
class Benchmark(
    private val request: BenchRequest,
    private val manifest: Manifest,
    private val runner: MeasuredRunner,
    private val poseBank: PoseBank,
    private val state: DeviceState,
    private val capture: (index: Int, image: RgbImage) -> String
) {
    private val pipeline = AvatarPipeline(manifest, runner, poseBank)

    /** One measured frame: the generated image and, driven by speech, its audio latency. */
    private class Step(val image: RgbImage, val audioLatencyMs: Double? = null)

    fun run(
        photo: RgbImage,
        driving: List<RgbImage>,
        loadMs: Double,
        bridged: Boolean
    ): BenchOutcome {
        require(driving.isNotEmpty()) { "no driving frames" }
        return measure(photo, loadMs, bridged, faces = true) { avatar ->
            val drive = pipeline.prepareDriving(driving[0], "sample driving")
            return@measure { i ->
                val frame = driving[i % driving.size]
                Step(pipeline.frame(avatar, drive, frame, pipeline.faces.update(frame)).second)
            }
        }
    }

    fun runSpeech(
        photo: RgbImage,
        speech: FloatArray,
        loadMs: Double,
        bridged: Boolean
    ): BenchOutcome {
        val spec = manifest.audioFeatures ?: throw BundleException(
            "this bundle has no audio front end settings (audio_features): export it with --audio"
        )
        val chunk = spec.sampleRate * SPEECH_CHUNK_MS / 1000
        val feed = SpeechFeed(spec, speech, SPEECH_FPS, chunk, "sample speech")
        return measure(photo, loadMs, bridged, faces = false) { avatar ->
            return@measure { _ ->
                val (window, arrived) = feed.next()
                val image = pipeline.speak(avatar, window)
                Step(image, (System.nanoTime() - arrived) / 1e6)
            }
        }
    }

    /**
     * The source stage, `prepare` (the rest of it: the driving's first frame), then the timed
     * frames `prepare` returns a step for.
     */
    private fun measure(
        photo: RgbImage,
        loadMs: Double,
        bridged: Boolean,
        faces: Boolean,
        prepare: (Avatar) -> (Int) -> Step
    ): BenchOutcome {
        val components = manifest.components.map { it.name }
        val times = mutableMapOf<String, MutableList<Double>>()
        val frameMs = mutableListOf<Double>()
        val latency = mutableListOf<Double>()
        val captured = mutableListOf<String>()
        val sustained = mutableListOf<SustainedPoint>()
        val outside = mutableListOf<Double>() // per measured frame, ms outside the runtimes
        var sourceMs = 0.0
        fun partial() = StageTimes(
            loadMs,
            sourceMs,
            frameMs.toList(),
            times.toMap(),
            outside.toList().takeIf { bridged },
            latency.toList().takeIf { !faces }
        )
        return try {
            var start = System.nanoTime()
            val step = prepare(pipeline.prepareSource(photo, "sample source"))
            sourceMs = (System.nanoTime() - start) / 1e6
            components.forEach { times[it] = mutableListOf() }
            if (faces) times[FACE_MESH] = mutableListOf()
            val total = request.warmup + request.frames
            val sustainedNs = (request.sustainedMin * 60e9).toLong()
            val windowNs = minOf(60e9, sustainedNs / 6.0).toLong()
            val runStart = System.nanoTime()
            var windowStart = runStart
            var windowFrames = 0
            var i = 0
            while (i < total || System.nanoTime() - runStart < sustainedNs) {
                runner.reset()
                start = System.nanoTime()
                val done = step(i)
                val wall = (System.nanoTime() - start) / 1e6
                if (i >= request.warmup) {
                    frameMs += wall
                    for (c in components) times.getValue(c) += runner.runtimeMs[c].orEmpty()
                    if (faces) times.getValue(FACE_MESH) += runner.total(FACE_MODELS)
                    done.audioLatencyMs?.let { latency += it }
                    outside += runner.outsideMs
                    if (captured.size < request.captureFrames) {
                        captured += capture(captured.size, done.image)
                    }
                }
                windowFrames++
                val now = System.nanoTime()
                if (windowNs > 0 && now - windowStart >= windowNs) {
                    val minute = (now - runStart) / 60e9
                    val fps = windowFrames / ((now - windowStart) / 1e9)
                    sustained += SustainedPoint(minute, fps, state.temperatureC())
                    windowStart = now
                    windowFrames = 0
                }
                i++
            }
            BenchOutcome(partial(), sustained, captured, state.pssMb(), null)
        } catch (e: MpkitException) {
            BenchOutcome(partial(), sustained, captured, null, e)
        }
    }

    companion object {
        const val FACE_MESH = "face_mesh"
        val FACE_MODELS = listOf("face_detector", "face_mesh")

        /** The fixed frame rate and microphone chunk of speech-driven runs. */
        const val SPEECH_FPS = 25.0
        const val SPEECH_CHUNK_MS = 20

        /** The driving the request names, or why this bundle or app cannot run it. */
        fun checkDriving(driving: String, manifest: Manifest) {
            when (driving) {
                "video" -> return

                "audio" -> if (manifest.components.none { it.stage == ModelBundle.AUDIO_STAGE }) {
                    throw MpkitException(
                        "driving 'audio' needs an audio component, and this ${manifest.modelId} " +
                            "bundle has none: export it with mpkit export --audio"
                    )
                }

                else -> throw MpkitException(
                    "driving '$driving' is not supported by this app (no synthetic driving " +
                        "source is defined); use driving 'video' or 'audio'"
                )
            }
        }
    }
}

/** A run's times so far, and `failure` when it stopped early (naming the failing component). */
class BenchOutcome(
    val times: StageTimes,
    val sustained: List<SustainedPoint>,
    val captured: List<String>,
    val pssMb: Double?,
    val failure: MpkitException?
)
