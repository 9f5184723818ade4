package org.mpkit.core

import java.io.File

/**
 * The live view's avatar: the bundle in `dir` verified and opened on `device` with `delegate`
 * (default: the bundle's own), the source stage run on `photo` (default: the bundle's sample
 * photo), driven from `driving`. Close it when done.
 */
class LiveSession private constructor(
    val manifest: Manifest,
    /** The delegate that really runs, which the bundle was validated for. */
    val delegate: String,
    private val runner: ComponentRunner,
    val live: LiveAvatar
) : AutoCloseable {
    override fun close() = runner.close()

    companion object {
        fun open(
            dir: File,
            device: BenchDevice,
            driving: DrivingSource,
            photo: RgbImage? = null,
            delegate: String? = null,
            threads: Int = 4
        ): LiveSession {
            val manifest = ModelBundle.verify(dir.toPath())
            val opened = device.open(dir, manifest, delegate, threads)
            try {
                val pipeline = AvatarPipeline(
                    manifest,
                    opened.runner,
                    ModelBundle.poseBank(dir.toPath(), manifest)
                )
                val source = photo ?: device.decode(
                    dir,
                    BenchmarkRun.sampleMedia(manifest, BenchmarkRun.SAMPLE_SOURCE)
                ).first()
                val avatar = pipeline.prepareSource(source, "photo")
                val live = LiveAvatar(pipeline, avatar, manifest, driving)
                return LiveSession(manifest, opened.delegate, opened.runner, live)
            } catch (e: Exception) {
                opened.runner.close()
                throw e
            }
        }
    }
}
