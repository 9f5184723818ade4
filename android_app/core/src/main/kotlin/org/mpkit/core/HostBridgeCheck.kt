package org.mpkit.core

import java.nio.file.Paths
import kotlin.math.sin
import org.json.JSONArray
import org.json.JSONObject

/**
 * The core on the host JVM, running every component of a bundle once through the virtual
 * device's tensor bridge on deterministic inputs ([probe]): what each returned, the time inside
 * the runtime and the bridge's own overhead, as JSON on stdout.
 *
 *     java -cp core.jar:... org.mpkit.core.HostBridgeCheckKt BUNDLE DELEGATE|- BRIDGE_COMMAND...
 */
fun main(args: Array<String>) {
    require(args.size >= 3) { "usage: BUNDLE DELEGATE|- BRIDGE_COMMAND..." }
    val bundle = Paths.get(args[0]).toAbsolutePath()
    val manifest = ModelBundle.verify(bundle)
    val (process, bridge) = PipeBridge.start(args.drop(2))
    val report = JSONObject()
    bridge.use {
        val loaded = it.load(bundle.toString(), args[1].takeUnless { d -> d == "-" }, 2)
        report.put(
            "runtime",
            loaded.getString("runtime")
        ).put("delegate", loaded.getString("delegate"))
        val components = JSONObject()
        for (component in manifest.components) {
            val inputs = component.inputs.map { spec -> probe(spec) }
            val start = System.nanoTime()
            val outputs = it.run(component.name, inputs)
            val wallMs = (System.nanoTime() - start) / 1e6
            val summary = JSONArray()
            for (o in outputs) {
                summary.put(
                    JSONObject().put("name", o.name).put("shape", JSONArray(o.shape.toList()))
                        .put(
                            "sum",
                            o.data.fold(0.0) { s, v ->
                                s + v
                            }
                        ).put("first", o.data.first().toDouble())
                )
            }
            components.put(
                component.name,
                JSONObject().put("outputs", summary).put("runtime_ms", it.lastRuntimeMs)
                    .put("bridge_ms", wallMs - it.lastRuntimeMs)
            )
        }
        report.put("components", components)
    }
    process.waitFor()
    println(report.toString(1))
}

/** Deterministic inputs for a spec: 0.5 + 0.4·sin(0.37·i), inside every input's range. */
fun probe(spec: TensorSpec): Tensor {
    val count = spec.shape.fold(1) { n, d -> n * d }
    return Tensor(
        spec.name,
        spec.shape.toIntArray(),
        FloatArray(count) {
            (
                0.5 +
                    0.4 * sin(0.37 * it)
                ).toFloat()
        }
    )
}
