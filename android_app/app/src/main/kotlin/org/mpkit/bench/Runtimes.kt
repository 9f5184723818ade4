package org.mpkit.bench

import java.io.File
import org.mpkit.core.ComponentRunner
import org.mpkit.core.TensorSpec

/**
 * One `.tflite` model of a bundle: its name in the pipeline, its file, and its outputs as the
 * manifest lists them (null for a helper model: its outputs come back flat, in signature order).
 */
class LiteRtModel(val name: String, val file: File, val outputs: List<TensorSpec>?)

/**
 * The LiteRT side of the app, which the Application provides. LiteRT's Android classes are on no
 * registry this project's CI reaches, so the code that uses them (LiteRtRunner, BenchApplication)
 * is kept apart from the code compiled here.
 */
interface Runtimes {
    /** `models` compiled for `delegate` (cpu or gpu), run on float tensors in signature order. */
    fun liteRt(models: List<LiteRtModel>, delegate: String, threads: Int): ComponentRunner
}
