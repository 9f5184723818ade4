package org.mpkit.bench

import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.LiteRtException
import com.google.ai.edge.litert.TensorBuffer
import java.io.File
import org.mpkit.core.ComponentException
import org.mpkit.core.ComponentRunner
import org.mpkit.core.Manifest
import org.mpkit.core.Tensor

/**
 * A TFLite bundle's components on LiteRT's CompiledModel API: delegate `gpu` is the GPU
 * accelerator (artifact litert-gpu) with CPU fallback for what it rejects, `cpu` is XNNPACK with
 * `threads`. Each component's buffers are made once and reused; inputs and outputs follow the
 * signature's order, which the manifest lists. LiteRT's Android classes are on no registry the
 * project's CI reaches, so this file is not compiled there (README, "The Android app").
 */
class LiteRtRunner(bundle: File, private val manifest: Manifest, delegate: String, threads: Int) :
    ComponentRunner {
    private class Compiled(
        val model: CompiledModel,
        val inputs: List<TensorBuffer>,
        val outputs: List<TensorBuffer>
    )

    private val compiled: Map<String, Compiled> = manifest.components.associate { c ->
        val options = when (delegate) {
            "gpu" -> CompiledModel.Options(Accelerator.GPU, Accelerator.CPU)
            "cpu" -> CompiledModel.Options(Accelerator.CPU)
            else -> throw ComponentException("LiteRT runs delegates cpu and gpu, not '$delegate'")
        }
        options.cpuOptions = CompiledModel.CpuOptions(numThreads = threads)
        val model = try {
            CompiledModel.create(File(bundle, c.file).path, options)
        } catch (e: LiteRtException) {
            throw ComponentException("${c.name}: LiteRT could not compile it: ${e.message}")
        }
        c.name to Compiled(model, model.createInputBuffers(), model.createOutputBuffers())
    }
    override var lastRuntimeMs = 0.0
        private set

    override fun run(component: String, inputs: List<Tensor>): List<Tensor> {
        val c = compiled[component]
            ?: throw ComponentException("no component '$component' in this bundle")
        if (inputs.size != c.inputs.size) {
            throw ComponentException("$component takes ${c.inputs.size} inputs, got ${inputs.size}")
        }
        val specs = manifest.components.first { it.name == component }.outputs
        if (c.outputs.size != specs.size) {
            throw ComponentException(
                "$component has ${c.outputs.size} outputs; the manifest lists ${specs.size}"
            )
        }
        return try {
            inputs.zip(c.inputs) { tensor, buffer -> buffer.writeFloat(tensor.data) }
            val start = System.nanoTime()
            c.model.run(c.inputs, c.outputs)
            lastRuntimeMs = (System.nanoTime() - start) / 1e6
            c.outputs.zip(specs) { buffer, spec ->
                Tensor(spec.name, spec.shape.toIntArray(), buffer.readFloat())
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
