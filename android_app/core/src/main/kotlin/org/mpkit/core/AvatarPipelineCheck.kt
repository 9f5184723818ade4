package org.mpkit.core

import java.nio.file.Paths
import org.json.JSONArray
import org.json.JSONObject

/**
 * The core's avatar pipeline on the host JVM, every model run by the virtual device's tensor
 * bridge from a bundle: the source stage on PHOTO, then [LiveAvatar] on each of FRAMES (the
 * first also sets the driving reference). Writes OUT: the source crop, then each generated
 * frame, raw RGB at the model's resolution; prints the source keypoints and the time inside the
 * runtimes as JSON. PHOTO and FRAMES are raw RGB (one photo; frames back to back).
 *
 *     java -cp ... org.mpkit.core.AvatarPipelineCheckKt BUNDLE PHOTO W H FRAMES W H OUT BRIDGE...
 */
fun main(args: Array<String>) {
    require(args.size >= 9) { "usage: BUNDLE PHOTO W H FRAMES W H OUT BRIDGE_COMMAND..." }
    val bundle = Paths.get(args[0]).toAbsolutePath()
    val manifest = ModelBundle.verify(bundle)
    val photo = RawFrames.read(Paths.get(args[1]), args[2].toInt(), args[3].toInt()).single()
    val frames = RawFrames.read(Paths.get(args[4]), args[5].toInt(), args[6].toInt())
    val (process, bridge) = PipeBridge.start(args.drop(8))
    var runtimeMs = 0.0
    val timed = object : ComponentRunner by bridge {
        override fun run(component: String, inputs: List<Tensor>) =
            bridge.run(component, inputs).also { runtimeMs += bridge.lastRuntimeMs }
    }
    val report = JSONObject()
    bridge.use {
        it.load(bundle.toString(), null, 2)
        val pipeline = AvatarPipeline(manifest, timed, ModelBundle.poseBank(bundle, manifest))
        val avatar = pipeline.prepareSource(photo, "photo")
        val live = LiveAvatar(pipeline, avatar, manifest, DrivingSource.VIDEO)
        val generated = frames.map { live.next(it) }
        RawFrames.write(Paths.get(args[7]), listOf(avatar.image) + generated)
        report.put("kp_source", JSONArray(avatar.kp.data.map { v -> v.toDouble() }))
        report.put("faces_found", avatar.facesFound)
        report.put("held_frames", live.mode.heldFrames)
    }
    process.waitFor()
    println(report.put("runtime_ms", runtimeMs).toString())
}
