package org.mpkit.core

/** A named float32 tensor in C order, as a component takes and gives it. */
class Tensor(val name: String, val shape: IntArray, val data: FloatArray) {
    init {
        require(shape.all { it >= 0 }) { "$name: negative dimension in ${shape.toList()}" }
        val count = shape.fold(1L) { n, d -> n * d }
        require(count == data.size.toLong()) {
            "$name: shape ${shape.toList()} holds $count values, got ${data.size}"
        }
    }
}

/** Runs a bundle's components by name (one implementation per runtime). */
interface ComponentRunner : AutoCloseable {
    /** The component's outputs in its manifest order; throws [ComponentException] on failure. */
    fun run(component: String, inputs: List<Tensor>): List<Tensor>

    /** Milliseconds the last [run] spent inside the runtime itself. */
    val lastRuntimeMs: Double
}

/** A component failed to run; the message names it. */
class ComponentException(message: String) : MpkitException(message)

/**
 * Routes each model name to the runner that holds it: on a phone the bundle's components run on
 * their runtime (ExecuTorch or LiteRT), its face and segmentation helpers on LiteRT.
 */
class RoutingRunner(private val routes: Map<String, ComponentRunner>) : ComponentRunner {
    private var last: ComponentRunner? = null
    override val lastRuntimeMs: Double get() = last?.lastRuntimeMs ?: 0.0

    override fun run(component: String, inputs: List<Tensor>): List<Tensor> {
        val runner = routes[component]
            ?: throw ComponentException("no model '$component' in this bundle")
        last = runner
        return runner.run(component, inputs)
    }

    override fun close() = routes.values.distinct().forEach { it.close() }
}
