package org.mpkit.core

import java.nio.file.Paths
import org.json.JSONArray
import org.json.JSONObject

/**
 * The core's face tracking on the host JVM, its two models run by the virtual device's tensor
 * bridge from a bundle's helpers: every frame's decision (detected / tracked / lost) and 468
 * (x, y, z) points, as JSON on stdout. FRAMES is raw RGB, WIDTH×HEIGHT per frame, back to back.
 *
 *     java -cp core.jar:... org.mpkit.core.FaceTrackingCheckKt BUNDLE FRAMES WIDTH HEIGHT BRIDGE...
 */
fun main(args: Array<String>) {
    require(args.size >= 5) { "usage: BUNDLE FRAMES WIDTH HEIGHT BRIDGE_COMMAND..." }
    val bundle = Paths.get(args[0]).toAbsolutePath()
    val images = RawFrames.read(Paths.get(args[1]), args[2].toInt(), args[3].toInt())
    val (process, bridge) = PipeBridge.start(args.drop(4))
    val frames = JSONArray()
    var runtimeMs = 0.0
    val timed = object : ComponentRunner by bridge {
        override fun run(component: String, inputs: List<Tensor>) =
            bridge.run(component, inputs).also { runtimeMs += bridge.lastRuntimeMs }
    }
    bridge.use {
        val helpers = it.load(bundle.toString(), null, 2).getJSONObject("helpers")
        require(helpers.has("face_detector") && helpers.has("face_mesh")) {
            "$bundle: the bridge loaded helpers ${helpers.keySet()}, not the face models"
        }
        val tracker = FaceTracker(FaceDetector(timed), FaceMesh(timed), bundle.fileName.toString())
        for (frame in images) {
            val out = JSONObject()
            try {
                val face = tracker.update(frame)
                out.put("decision", if (face.redetected) "detected" else "tracked")
                out.put("points", JSONArray(face.points.toList()))
            } catch (e: NoFaceException) {
                out.put("decision", "lost").put("error", e.message)
            }
            frames.put(out)
        }
    }
    process.waitFor()
    println(JSONObject().put("frames", frames).put("runtime_ms", runtimeMs).toString())
}
