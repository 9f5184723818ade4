package org.mpkit.bench

import java.io.File
import org.mpkit.core.ComponentException
import org.mpkit.core.ComponentRunner
import org.mpkit.core.Manifest
import org.mpkit.core.Tensor
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor as EtTensor

/**
 * An ExecuTorch bundle's components, one [Module] per `.pte` (memory-mapped; the backend, such
 * as XNNPACK, is fixed in each file), run with `forward` on float tensors in manifest order.
 */
class ExecuTorchRunner(bundle: File, private val manifest: Manifest, threads: Int) :
    ComponentRunner {
    private val modules = manifest.components.associate { c ->
        c.name to Module.load(File(bundle, c.file).path, Module.LOAD_MODE_MMAP, threads)
    }
    override var lastRuntimeMs = 0.0
        private set

    override fun run(component: String, inputs: List<Tensor>): List<Tensor> {
        val module = modules[component]
            ?: throw ComponentException("no component '$component' in this bundle")
        val args = inputs.map { it.toEValue() }
        val start = System.nanoTime()
        val values = try {
            module.forward(*args.toTypedArray())
        } catch (e: RuntimeException) {
            throw ComponentException("$component failed in ExecuTorch: ${e.message}")
        }
        lastRuntimeMs = (System.nanoTime() - start) / 1e6
        val specs = manifest.components.first { it.name == component }.outputs
        if (values.size != specs.size) {
            throw ComponentException(
                "$component returned ${values.size} outputs; the manifest lists ${specs.size}"
            )
        }
        return values.zip(specs) { value, spec -> value.toTensor().toCore(spec.name) }
    }

    override fun close() = modules.values.forEach { it.destroy() }
}

private fun Tensor.toEValue(): EValue =
    EValue.from(EtTensor.fromBlob(data, LongArray(shape.size) { shape[it].toLong() }))

private fun EtTensor.toCore(name: String): Tensor {
    val dims = shape()
    return Tensor(name, IntArray(dims.size) { dims[it].toInt() }, dataAsFloatArray)
}
