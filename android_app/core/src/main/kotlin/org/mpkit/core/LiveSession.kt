package org.mpkit.core

import java.io.File

/**
 * The live view's avatar: the bundle in `dir` verified and opened on `device` (its default
 * delegate unless `delegate`), the source stage run on `photo` (default: the bundle's sample
 * photo). Close [runner] when done.
 */
class LiveSession private constructor(
    val manifest: Manifest,
    val runner: ComponentRunner,
    val live: LiveAvatar
) : AutoCloseable {
    override fun close() = runner.close()

    companion object {
        fun open(
            dir: File,
            device: BenchDevice,
            photo: RgbImage? = null,
            delegate: String? = null,
            threads: Int = 4
        ): LiveSession {
            val manifest = ModelBundle.verify(dir.toPath())
            val runner = device.open(dir, manifest, delegate, threads).runner
            try {
                val pipeline =
                    AvatarPipeline(manifest, runner, ModelBundle.poseBank(dir.toPath(), manifest))
                val source = photo ?: device.decode(
                    dir,
                    manifest.helper(BenchmarkRun.SAMPLE_SOURCE)
                        ?: throw BundleException("the bundle has no sample photo: pass one")
                ).first()
                return LiveSession(
                    manifest,
                    runner,
                    LiveAvatar(pipeline, pipeline.prepareSource(source, "photo"))
                )
            } catch (e: Exception) {
                runner.close()
                throw e
            }
        }
    }
}
