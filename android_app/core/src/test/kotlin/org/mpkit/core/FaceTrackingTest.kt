package org.mpkit.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.abs
import kotlin.math.max
import kotlin.math.roundToInt
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.json.JSONArray
import org.json.JSONObject

/**
 * Face detection, mesh and tracking against testdata/face_tracking, written by `python -m
 * mpkit.landmarks.golden`: the stored raw model outputs replayed through the Kotlin pre- and
 * post-processing reproduce every intermediate within the tolerances in `cases.json`.
 */
class FaceTrackingTest {
    private val golden = TestData.json("face_tracking/cases.json")
    private val tolerance = golden.getJSONObject("tolerance")
    private val blob = ByteBuffer.wrap(TestData.bytes("face_tracking/outputs.bin"))
        .order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer()
    private val cases = objects(golden.getJSONArray("cases"))
    private val worst = sortedMapOf<String, Double>()

    @Test
    fun `every model input is the one mpkit feeds the model`() {
        for (case in cases) {
            val frame = image(case.getString("image"))
            for (step in objects(case.getJSONArray("steps"))) {
                val input = when (step.getString("model")) {
                    "face_detector" -> FaceDetector.input(frame)
                    else -> FaceMesh.input(frame, roi(step.getJSONObject("roi")))
                }
                checkInput(step, input)
            }
        }
        assertWithinTolerance(setOf("input_max_levels", "input_mean_levels", "input_channel_mean"))
    }

    @Test
    fun `the stored raw outputs decode to mpkit's detections, ROIs and 468 points`() {
        for (case in cases) {
            val frame = image(case.getString("image"))
            val steps = objects(case.getJSONArray("steps"))
            for ((k, step) in steps.withIndex()) {
                if (step.getString("model") == "face_detector") {
                    val got = FaceDetector.decode(outputs(step), frame.width, frame.height)
                    val want = objects(step.getJSONArray("detections"))
                    assertEquals(want.size, got.size, "${case.getString("name")} detections")
                    for ((g, w) in got.zip(want)) {
                        measure("box_px", flat(w.getJSONArray("box")), g.box)
                        measure("box_px", flat(w.getJSONArray("keypoints")), g.keypoints)
                        measure("score", abs(w.getDouble("score") - g.score))
                    }
                    if (got.isNotEmpty()) {
                        measureRoi(
                            steps[k + 1].getJSONObject("roi"),
                            Roi.of(got[0])
                        )
                    }
                } else {
                    val got = FaceMesh.decode(outputs(step), roi(step.getJSONObject("roi")))
                    measure("points_px", flat(step.getJSONArray("points")), got.points)
                    measure("score", abs(step.getDouble("presence") - got.presence))
                }
            }
        }
        assertWithinTolerance(setOf("box_px", "score", "roi_px", "roi_angle", "points_px"))
    }

    @Test
    fun `the tracker on the replayed models detects, tracks, loses and re-detects as mpkit does`() {
        // The mesh crops follow the Kotlin ROIs here, not the stored ones: "chained_" tolerances.
        val replay = Replay(cases.flatMap { objects(it.getJSONArray("steps")) }, "chained_")
        val tracker = FaceTracker(FaceDetector(replay), FaceMesh(replay), "golden")
        val decisions = cases.map { case ->
            val got = try {
                tracker.update(image(case.getString("image")))
            } catch (e: NoFaceException) {
                assertTrue("no face found" in e.message!!, e.message)
                null
            }
            if (got != null) {
                val last = objects(case.getJSONArray("steps")).last()
                measure("points_px", flat(last.getJSONArray("points")), got.points)
            }
            measureRoi(case.getJSONObject("roi_next"), tracker.roi!!)
            when {
                got == null -> "lost"
                got.redetected -> "detected"
                else -> "tracked"
            }
        }
        assertEquals(cases.map { it.getString("decision") }, decisions)
        assertEquals(0, replay.left(), "model calls the tracker did not make")
        val detectorRuns = cases.count { c ->
            objects(c.getJSONArray("steps")).any { it.getString("model") == "face_detector" }
        }
        assertEquals(
            listOf(cases.size, detectorRuns, decisions.count { it == "lost" }),
            listOf(tracker.frames, tracker.redetections, tracker.lost)
        )
        assertTrue(setOf("lost", "detected", "tracked") == decisions.toSet(), "$decisions")
        assertWithinTolerance(
            setOf("points_px", "roi_px", "roi_angle", "chained_input_channel_mean")
        )
    }

    @Test
    fun `a photo without a face is a clear error, and a model with other outputs too`() {
        val blank = cases.single { it.getString("name") == "blank" }
        val detect = objects(blank.getJSONArray("steps")).filter {
            it.getString("model") == "face_detector"
        }
        val replay = Replay(detect)
        val tracker = FaceTracker(FaceDetector(replay), FaceMesh(replay))
        val error = assertFailsWith<NoFaceException> {
            tracker.landmarks(image(blank.getString("image")), "photo.png")
        }
        assertEquals("photo.png: no face found", error.message)
        val wrong = listOf(Tensor("x", intArrayOf(1, 2), floatArrayOf(0f, 1f)))
        val mesh = assertFailsWith<IllegalArgumentException> {
            FaceMesh.decode(wrong, Roi(0.0, 0.0, 1.0, 0.0))
        }
        assertTrue("1404 coordinates and one presence logit" in mesh.message!!, mesh.message)
    }

    /** The stored models: each call must be the recorded one, fed what mpkit fed it. */
    private inner class Replay(steps: List<JSONObject>, private val keys: String = "") :
        ComponentRunner {
        private val queue = ArrayDeque(steps)
        override val lastRuntimeMs = 0.0

        override fun run(component: String, inputs: List<Tensor>): List<Tensor> {
            val step = queue.removeFirstOrNull() ?: error("$component ran past the recorded calls")
            assertEquals(step.getString("model"), component)
            checkInput(step, inputs.single(), keys)
            return outputs(step)
        }

        fun left() = queue.size

        override fun close() = Unit
    }

    private fun checkInput(step: JSONObject, input: Tensor, keys: String = "") {
        val want = step.getJSONObject("input")
        assertEquals(flat(want.getJSONArray("shape")).map { it.toInt() }, input.shape.toList())
        val means = DoubleArray(3)
        for (i in input.data.indices) means[i % 3] += input.data[i] / (input.data.size / 3.0)
        measure("${keys}input_channel_mean", flat(want.getJSONArray("channel_mean")), means)
        val png = want.optString("png").takeIf { it.isNotEmpty() } ?: return
        val levels = image(png)
        val detector = step.getString("model") == "face_detector"
        var sum = 0.0
        for (i in input.data.indices) {
            val v = input.data[i]
            val got = if (detector) ((v + 1) * 127.5f).roundToInt() else (v * 255f).roundToInt()
            val d = abs(got - (levels.pixels[i].toInt() and 0xFF)).toDouble()
            measure("${keys}input_max_levels", d)
            sum += d
        }
        measure("${keys}input_mean_levels", sum / input.data.size)
    }

    private fun outputs(step: JSONObject): List<Tensor> =
        objects(step.getJSONArray("outputs")).map {
            val shape = flat(it.getJSONArray("shape")).map { d -> d.toInt() }.toIntArray()
            val offset = it.getInt("offset")
            Tensor(
                it.getString("name"),
                shape,
                FloatArray(shape.fold(1) { n, d -> n * d }) { i ->
                    blob[
                        offset +
                            i
                    ]
                }
            )
        }

    private fun measureRoi(want: JSONObject, got: Roi) {
        val w = roi(want)
        measure(
            "roi_px",
            doubleArrayOf(w.cx, w.cy, w.size),
            doubleArrayOf(got.cx, got.cy, got.size)
        )
        measure("roi_angle", abs(w.angle - got.angle))
    }

    private fun measure(key: String, want: DoubleArray, got: DoubleArray) {
        assertEquals(want.size, got.size, "$key: sizes")
        measure(key, want.indices.maxOfOrNull { abs(want[it] - got[it]) } ?: 0.0)
    }

    private fun measure(key: String, diff: Double) {
        worst[key] = max(worst[key] ?: 0.0, diff)
    }

    /** Every quantity in `keys` was measured and its worst difference is within tolerance. */
    private fun assertWithinTolerance(keys: Set<String>) {
        assertTrue(worst.keys.containsAll(keys), "measured ${worst.keys}, not all of $keys")
        val over = worst.filter { (k, v) -> v > tolerance.getDouble(k) }
        assertTrue(over.isEmpty(), "over tolerance: $over; worst $worst; tolerance $tolerance")
    }

    private fun roi(o: JSONObject) =
        Roi(o.getDouble("cx"), o.getDouble("cy"), o.getDouble("size"), o.getDouble("angle"))

    private fun objects(a: JSONArray): List<JSONObject> = List(a.length()) { a.getJSONObject(it) }

    /** Numbers and nested arrays of numbers, flattened in order. */
    private fun flat(a: JSONArray): DoubleArray {
        val out = ArrayList<Double>()
        for (i in 0 until a.length()) {
            when (val v = a.get(i)) {
                is JSONArray -> flat(v).forEach { out += it }
                else -> out += a.getDouble(i)
            }
        }
        return out.toDoubleArray()
    }

    private fun image(name: String): RgbImage = TestData.rgbImage("face_tracking/$name")
}
