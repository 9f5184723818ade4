package org.mpkit.core

import kotlin.math.abs
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.json.JSONArray
import org.json.JSONObject

/** The frame-stage glue against testdata/pipeline, written by `python -m mpkit.pipeline.golden`. */
class FrameGlueTest {
    private val golden = TestData.json("pipeline/cases.json")
    private val size = golden.getInt("resolution")
    private val tolerance = golden.getJSONObject("tolerance")
    private val indices = golden.getJSONArray("facial_indices").let { a ->
        IntArray(a.length()) { a.getInt(it) }
    }
    private val cases = golden.getJSONArray("cases").let { a ->
        List(a.length()) { a.getJSONObject(it) }
    }

    @Test
    fun `the crop box is the one mpkit computes from the same mesh`() {
        val limit = tolerance.getDouble("box_px")
        for (case in cases) {
            val box = FaceCrop.fromMesh(mesh(case))
            val want = case.getJSONObject("crop")
            val name = case.getString("name")
            assertEquals(want.getDouble("x0"), box.x0, limit, "$name x0")
            assertEquals(want.getDouble("y0"), box.y0, limit, "$name y0")
            assertEquals(want.getDouble("side"), box.side, limit, "$name side")
        }
    }

    @Test
    fun `the 256 crop matches OpenCV's within the stated tolerance, shrinking and enlarging`() {
        val maxAllowed = tolerance.getInt("crop_max_abs")
        val meanAllowed = tolerance.getDouble("crop_mean_abs")
        val scales = mutableListOf<Double>()
        for (case in cases) {
            val want = image(case.getString("crop_image"))
            val box = case.getJSONObject("crop").let {
                FaceCrop(it.getDouble("x0"), it.getDouble("y0"), it.getDouble("side"))
            }
            scales += size / box.side
            val got = box.apply(image(case.getString("image")), size)
            var worst = 0
            var sum = 0L
            for (i in got.pixels.indices) {
                val d = abs((got.pixels[i].toInt() and 0xFF) - (want.pixels[i].toInt() and 0xFF))
                worst = maxOf(worst, d)
                sum += d
            }
            val name = case.getString("name")
            assertTrue(worst <= maxAllowed, "$name: max difference $worst > $maxAllowed")
            assertTrue(
                sum.toDouble() / got.pixels.size <= meanAllowed,
                "$name: mean difference ${sum.toDouble() / got.pixels.size}"
            )
        }
        assertTrue(
            scales.any {
                it < 1
            } && scales.any { it > 1 },
            "the fixtures cover shrinking and enlarging: $scales"
        )
    }

    @Test
    fun `facial keypoints and relative motion are mpkit's`() {
        val limit = tolerance.getDouble("unit")
        val kp = cases.associate {
            it.getString("name") to
                FacialKeypoints.of(mesh(it), indices, FaceCrop.fromMesh(mesh(it)), size)
        }
        for (case in cases) {
            assertClose(
                flat(case.getJSONArray("facial_unit")),
                kp.getValue(case.getString("name")),
                limit,
                case.getString("name")
            )
        }
        val source = kp.getValue(golden.getString("source"))
        val first = kp.getValue(cases[1].getString("name"))
        for (case in cases.drop(1)) {
            val got = FacialKeypoints.relative(source, kp.getValue(case.getString("name")), first)
            assertClose(
                flat(case.getJSONArray("relative_to_first")),
                got,
                3 * limit,
                "${case.getString("name")} relative"
            )
        }
    }

    @Test
    fun `a mesh index past the mesh and mismatched keypoint sets are clear errors`() {
        val error =
            assertFailsWith<IllegalArgumentException> {
                FacialKeypoints.subset(DoubleArray(10), intArrayOf(5))
            }
        assertTrue("mesh point 5 does not exist" in error.message!!, error.message)
        assertFailsWith<IllegalArgumentException> {
            FacialKeypoints.relative(DoubleArray(4), DoubleArray(4), DoubleArray(2))
        }
        assertFailsWith<IllegalArgumentException> { FaceCrop.fromMesh(DoubleArray(3)) }
    }

    private fun mesh(case: JSONObject): DoubleArray = flat(case.getJSONArray("mesh"))

    private fun flat(rows: JSONArray): DoubleArray {
        val out = ArrayList<Double>()
        for (i in 0 until rows.length()) {
            val row = rows.getJSONArray(i)
            for (j in 0 until row.length()) out += row.getDouble(j)
        }
        return out.toDoubleArray()
    }

    private fun assertClose(want: DoubleArray, got: DoubleArray, limit: Double, what: String) {
        assertEquals(want.size, got.size, "$what size")
        val worst = want.indices.maxOf { abs(want[it] - got[it]) }
        assertTrue(worst <= limit, "$what: off by $worst > $limit")
    }

    private fun image(name: String): RgbImage = TestData.rgbImage("pipeline/$name")
}
