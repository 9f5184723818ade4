package org.mpkit.core

import java.io.File

/** What a device lends a benchmark run: its runtimes, its media decoders and its own state. */
interface BenchDevice : DeviceState {
    /** Where the figures come from: [Protocol.MEASURED_ON_DEVICE] on a phone. */
    val measuredOn: String

    /** The bundle's components and helper models, ready to run with `delegate` (or the default). */
    fun open(bundle: File, manifest: Manifest, delegate: String?, threads: Int): OpenedRunner

    /** The bundle's media helper `helper` (a photo or a clip) decoded as the platform decodes it. */
    fun decode(bundle: File, helper: HelperEntry): List<RgbImage>
}

/**
 * Runners opened for a run: `delegate` is the one that really runs (which the bundle must be
 * validated for); `bridged` when calls cross a bridge whose overhead the result reports.
 */
class OpenedRunner(val runner: ComponentRunner, val delegate: String, val bridged: Boolean)

/**
 * The benchmark activity's whole run, on a phone and on the virtual device alike: read the
 * request, verify the bundle, open its runners on `device`, run [Benchmark] on the bundle's
 * sample media, and write `<run_id>.json` (captures as `<run_id>/frame_NNNN.png`) into
 * `results`. Every failure after the request is read is a result with status "error"; a request
 * that cannot be read is written as one too when its run_id is readable.
 */
object BenchmarkRun {
    /**
     * Runs the request in `extras` (an Intent's extras) with `bundle_dir` resolved by `resolve`
     * (a [MpkitException] from it is the run's error result).
     */
    fun fromExtras(
        extras: Map<String, Any?>,
        results: File,
        device: BenchDevice,
        resolve: (String) -> File = ::File
    ): BenchResult {
        val request = try {
            BenchRequest.fromExtras(extras)
        } catch (e: ProtocolException) {
            val runId = extras["run_id"] as? String
            if (runId == null || !RUN_ID.matches(runId)) throw e
            return failed(runId, "unknown", 0, "unknown", device, e.message ?: "bad request")
                .also { it.write(results) }
        }
        val bundle = try {
            resolve(request.bundleDir)
        } catch (e: Exception) { // an MpkitException, or an IOException of the file system
            return failed(request, device, e.message ?: e.toString()).also { it.write(results) }
        }
        return execute(request, bundle, results, device)
    }

    /**
     * A `resolve` for [fromExtras] that takes only folders inside `roots` (symlinks resolved):
     * the extras come from whoever starts the activity.
     */
    fun confinedTo(roots: List<File>): (String) -> File = { path ->
        val dir = File(path).canonicalFile
        val inside = roots.any { root ->
            dir.path.startsWith(root.canonicalFile.path.trimEnd('/') + "/")
        }
        if (!File(path).isAbsolute || !inside) {
            throw ProtocolException(
                "extra bundle_dir: '$path' is not inside ${roots.joinToString()}: deploy the " +
                    "bundle with mpkit deploy, which pushes it there"
            )
        }
        dir
    }

    fun execute(
        request: BenchRequest,
        bundle: File,
        results: File,
        device: BenchDevice
    ): BenchResult {
        val result = try {
            run(request, bundle, results, device)
        } catch (e: MpkitException) {
            failed(request, device, e.message ?: e.toString())
        } catch (e: Exception) { // a bug or an I/O failure: the result names it, .trace has more
            File(results, "${request.runId}.trace").apply { parentFile.mkdirs() }
                .writeText(e.stackTraceToString())
            failed(request, device, "${e.javaClass.simpleName}: ${e.message}")
        } catch (e: OutOfMemoryError) {
            failed(request, device, "out of memory (${e.message}): a smaller model or photo")
        }
        result.write(results)
        return result
    }

    private val RUN_ID = Regex("^[A-Za-z0-9_.-]+$")

    private fun run(
        request: BenchRequest,
        bundle: File,
        results: File,
        device: BenchDevice
    ): BenchResult {
        val start = System.nanoTime()
        val manifest = ModelBundle.verify(bundle.toPath())
        Benchmark.checkDriving(request.driving, manifest)
        val opened = device.open(bundle, manifest, request.delegate, request.threads)
        return opened.runner.use { runner ->
            val delegate = manifest.delegate(opened.delegate)
            val benchmark = Benchmark(
                request,
                manifest,
                MeasuredRunner(runner),
                ModelBundle.poseBank(bundle.toPath(), manifest),
                device
            ) { index, image ->
                val name = "${request.runId}/frame_%04d.png".format(index)
                File(results, name).apply { parentFile.mkdirs() }.writeBytes(Png.encode(image))
                name
            }
            val loadMs = (System.nanoTime() - start) / 1e6
            val photo = device.decode(bundle, sampleMedia(manifest, SAMPLE_SOURCE)).first()
            val outcome = if (request.driving == "audio") {
                benchmark.runSpeech(photo, sampleSpeech(bundle, manifest), loadMs, opened.bridged)
            } else {
                val driving = device.decode(bundle, sampleMedia(manifest, SAMPLE_DRIVING))
                benchmark.run(photo, driving, loadMs, opened.bridged)
            }
            BenchResult(
                request.runId,
                if (outcome.failure == null) RunStatus.OK else RunStatus.ERROR,
                outcome.failure?.message,
                device.measuredOn,
                manifest.runtime,
                delegate,
                request.threads,
                request.driving,
                outcome.times,
                outcome.pssMb,
                outcome.sustained,
                outcome.captured
            )
        }
    }

    /** The bundle's sample speech as samples at its audio front end's rate. */
    private fun sampleSpeech(bundle: File, manifest: Manifest): FloatArray {
        val file = File(bundle, sampleMedia(manifest, SAMPLE_SPEECH).file)
        if (file.length() > Wav.MAX_BYTES) {
            throw BundleException(
                "$file: ${file.length()} bytes, over ${Wav.MAX_BYTES}: not a sample clip"
            )
        }
        return Wav.pcm16Mono(file.readBytes(), file.toString(), manifest.audioFeatures!!.sampleRate)
    }

    /** The bundle's sample media helper `role` ([SAMPLE_SOURCE], [SAMPLE_DRIVING], [SAMPLE_SPEECH]). */
    fun sampleMedia(manifest: Manifest, role: String): HelperEntry = manifest.helper(role)
        ?: throw BundleException(
            "the bundle lists no '$role' helper (its sample media): export the bundle again"
        )

    private fun failed(request: BenchRequest, device: BenchDevice, error: String) =
        failed(request.runId, request.delegate, request.threads, request.driving, device, error)

    private fun failed(
        runId: String,
        delegate: String,
        threads: Int,
        driving: String,
        device: BenchDevice,
        error: String
    ) = BenchResult(
        runId,
        RunStatus.ERROR,
        error,
        device.measuredOn,
        "unknown",
        delegate,
        threads,
        driving,
        null,
        null
    )

    const val SAMPLE_SOURCE = "sample_source"
    const val SAMPLE_DRIVING = "sample_driving"
    const val SAMPLE_SPEECH = "sample_speech"
}
