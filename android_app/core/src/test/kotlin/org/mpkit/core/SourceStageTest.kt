package org.mpkit.core

import java.io.ByteArrayInputStream
import javax.imageio.ImageIO
import kotlin.test.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.json.JSONObject

/**
 * The source stage against Python's golden fixtures (testdata/source_stage/, written by
 * python_tools/tests/test_source_stage.py from real photos and the shipped mp-tiny): the
 * push-pull pseudo background and the pose bank's view keypoints. Tolerance: none; both sides
 * do the same float32 operations in the same order, so they agree to the bit.
 */
class SourceStageTest {
    private class Png(val width: Int, val height: Int, val values: IntArray)

    /** The raw samples (no colour conversion), row-major, channels interleaved. */
    private fun png(name: String): Png {
        val image = ImageIO.read(ByteArrayInputStream(TestData.bytes("source_stage/$name")))
        val raster = image.raster
        val bands = raster.numBands
        val values = IntArray(image.width * image.height * bands)
        for (y in 0 until image.height) {
            for (x in 0 until image.width) {
                for (b in 0 until bands) {
                    values[(y * image.width + x) * bands + b] = raster.getSample(x, y, b)
                }
            }
        }
        return Png(image.width, image.height, values)
    }

    private fun foreground(case: String): Png = png("${case}_foreground.png")

    @Test
    fun `the dilated foreground mask is Python's`() {
        for (case in CASES) {
            val fg = foreground(case)
            val mask = Inpaint.backgroundMask(
                FloatArray(fg.values.size) { fg.values[it] / 255f },
                fg.width,
                fg.height
            )
            val want = png("${case}_mask.png").values.map { it > 0 }
            assertEquals(want, mask.toList(), case)
        }
    }

    @Test
    fun `the pseudo background is Python's to the bit`() {
        for (case in CASES) {
            val image = png("${case}_image.png")
            val fg = foreground(case)
            val background = Inpaint.pseudoBackground(
                FloatArray(image.values.size) { image.values[it].toFloat() },
                FloatArray(fg.values.size) { fg.values[it] / 255f },
                image.width,
                image.height
            )
            assertContentEquals(png("${case}_background.png").values, background, case)
        }
    }

    @Test
    fun `push-pull keeps known pixels and fills a fully masked image with the empty value`() {
        val image = FloatArray(5 * 3 * 3) { it.toFloat() }
        val none = Inpaint.pushPull(image, BooleanArray(15), 5, 3, 3)
        assertContentEquals(image, none)
        val all = Inpaint.pushPull(image, BooleanArray(15) { true }, 5, 3, 3)
        assertTrue(all.all { it == Inpaint.EMPTY_FILL })
    }

    private val bankCase: JSONObject by lazy { TestData.json("source_stage/pose_bank.json") }

    private fun floats(rows: org.json.JSONArray): FloatArray {
        val out = mutableListOf<Float>()
        for (k in 0 until rows.length()) {
            val p = rows.getJSONArray(k)
            out += p.getDouble(0).toFloat()
            out += p.getDouble(1).toFloat()
        }
        return out.toFloatArray()
    }

    @Test
    fun `the pose bank's view keypoints are Python's to the bit`() {
        val bank = PoseBank.parse(bankCase.getJSONObject("bank"), 4)
        val views = bank.apply(floats(bankCase.getJSONArray("kp_source")))
        val want = bankCase.getJSONArray("kp_views")
        assertEquals(want.length(), views.size)
        for (t in views.indices) {
            assertContentEquals(floats(want.getJSONArray(t)), views[t], "view $t")
        }
    }

    @Test
    fun `a bank of another format, version or size is refused`() {
        val good = bankCase.getJSONObject("bank")
        val wrongSize = assertFailsWith<BundleException> { PoseBank.parse(good, 6) }
        assertTrue("has 4 poses, the model has 6 views" in wrongSize.message!!)
        val old = JSONObject(good.toString()).put("version", 0)
        assertFailsWith<BundleException> { PoseBank.parse(old, 4) }
        val bad = JSONObject(good.toString())
        bad.getJSONArray("affines").getJSONArray(1).getJSONArray(0).remove(2)
        val short = assertFailsWith<BundleException> { PoseBank.parse(bad, 4) }
        assertTrue("pose 1 is not 2 rows of 3 values" in short.message!!)
    }

    private val resampleCase: JSONObject by lazy { TestData.json("source_stage/resample.json") }

    private fun values(key: String): FloatArray {
        val a = resampleCase.getJSONArray(key)
        return FloatArray(a.length()) { a.getDouble(it).toFloat() }
    }

    private fun assertClose(want: FloatArray, got: FloatArray, tolerance: Float, what: String) {
        assertEquals(want.size, got.size, what)
        val worst = want.indices.maxOf { kotlin.math.abs(want[it] - got[it]) }
        assertTrue(worst <= tolerance, "$what: worst difference $worst > $tolerance")
    }

    @Test
    fun `source_small's antialiased shrink and the masks' area shrink are torch's`() {
        val side = resampleCase.getInt("side")
        val size = resampleCase.getInt("size")
        val patch = values("patch")
        val plane = side * side
        val planar = FloatArray(patch.size) { patch[(it % plane) * 3 + it / plane] / 255f }
        val aa = Resample.antialiasedBilinear(planar, 3, side, size)
        assertClose(values("antialiased"), aa, 1e-6f, "antialiased bilinear")
        assertClose(values("area"), Resample.area(planar, 3, side, size), 1e-6f, "area")
        assertFailsWith<IllegalArgumentException> { Resample.area(planar, 3, side, 7) }
    }

    @Test
    fun `the facial-keypoint mask is facial_mask's`() {
        val mask = FacialKeypoints.facialMask(values("points"), resampleCase.getInt("mask_size"))
        assertClose(values("mask"), mask, 1e-6f, "facial mask")
        assertTrue(mask.max() > 0.2f) // (0.1, 0.3) is 1/30 from a pixel centre on each axis
    }

    private companion object {
        val CASES = listOf("obama", "elder1")
    }
}
