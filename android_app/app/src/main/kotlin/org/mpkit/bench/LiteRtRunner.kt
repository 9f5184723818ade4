package org.mpkit.bench

import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.LiteRtException
import com.google.ai.edge.litert.TensorBuffer
import org.mpkit.core.ComponentException
import org.mpkit.core.ComponentRunner
import org.mpkit.core.Tensor
import org.mpkit.core.TensorSpec

/**
 * TFLite models (a bundle's components or its face and segmentation helpers) on LiteRT's
 * CompiledModel API: delegate `gpu` is the GPU accelerator (artifact litert-gpu) with CPU
 * fallback for what it rejects, `cpu` is XNNPACK with `threads`. Each model's buffers are made
 * once and reused; inputs and outputs follow the signature's order, which the manifest lists.
 * LiteRT's Android classes are on no registry the project's CI reaches, so this file is not
 * compiled there (README, "The Android app").
 */
class LiteRtRunner(models: List<LiteRtModel>, delegate: String, threads: Int) : ComponentRunner {
    private class Compiled(
        val model: CompiledModel,
        val inputs: List<TensorBuffer>,
        val outputs: List<TensorBuffer>,
        val specs: List<TensorSpec>?
    )

    private val compiled = LinkedHashMap<String, Compiled>()

    init {
        try {
            models.forEach { compiled[it.name] = compile(it, delegate, threads) }
        } catch (e: Exception) {
            close() // the models compiled before the one that failed
            throw e
        }
    }

    private fun compile(m: LiteRtModel, delegate: String, threads: Int): Compiled {
        val options = when (delegate) {
            "gpu" -> CompiledModel.Options(Accelerator.GPU, Accelerator.CPU)
            "cpu" -> CompiledModel.Options(Accelerator.CPU)
            else -> throw ComponentException("LiteRT runs delegates cpu and gpu, not '$delegate'")
        }
        options.cpuOptions = CompiledModel.CpuOptions(numThreads = threads)
        val model = try {
            CompiledModel.create(m.file.path, options)
        } catch (e: LiteRtException) {
            throw ComponentException("${m.name}: LiteRT could not compile it: ${e.message}")
        }
        val outputs = model.createOutputBuffers()
        if (m.outputs != null && outputs.size != m.outputs.size) {
            throw ComponentException(
                "${m.name} has ${outputs.size} outputs; the manifest lists ${m.outputs.size}"
            )
        }
        return Compiled(model, model.createInputBuffers(), outputs, m.outputs)
    }
    override var lastRuntimeMs = 0.0
        private set

    override fun run(component: String, inputs: List<Tensor>): List<Tensor> {
        val c = compiled[component]
            ?: throw ComponentException("no component '$component' in this bundle")
        if (inputs.size != c.inputs.size) {
            throw ComponentException("$component takes ${c.inputs.size} inputs, got ${inputs.size}")
        }
        return try {
            inputs.zip(c.inputs) { tensor, buffer -> buffer.writeFloat(tensor.data) }
            val start = System.nanoTime()
            c.model.run(c.inputs, c.outputs)
            lastRuntimeMs = (System.nanoTime() - start) / 1e6
            c.outputs.mapIndexed { i, buffer ->
                val data = buffer.readFloat()
                val spec = c.specs?.get(i)
                Tensor(
                    spec?.name ?: "output_$i",
                    spec?.shape?.toIntArray() ?: intArrayOf(data.size),
                    data
                )
            }
        } catch (e: LiteRtException) {
            throw ComponentException("$component failed in LiteRT: ${e.message}")
        }
    }

    override fun close() = compiled.values.forEach { c ->
        (c.inputs + c.outputs).forEach { it.close() }
        c.model.close()
    }
}
