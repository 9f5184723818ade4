package org.mpkit.core

import java.nio.ByteBuffer
import kotlin.math.abs
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import org.junit.jupiter.api.Test

/** Real carphone frames as the H.264 decoder gives them, against mpkit's RGB decode of them. */
class YuvTest {
    private val spec = TestData.json("video_decode/cases.json")
    private val width = spec.getInt("width")
    private val height = spec.getInt("height")
    private val tolerance = spec.getJSONObject("tolerance")
    private val cases = spec.getJSONArray("cases").let { a ->
        List(a.length()) { a.getJSONObject(it) }
    }

    private fun planes(i420: ByteArray): Triple<YuvPlane, YuvPlane, YuvPlane> {
        val ySize = width * height
        val cSize = ySize / 4
        fun plane(from: Int, size: Int, stride: Int) =
            YuvPlane(ByteBuffer.wrap(i420.copyOfRange(from, from + size)), stride, 1)
        return Triple(
            plane(0, ySize, width),
            plane(ySize, cSize, width / 2),
            plane(ySize + cSize, cSize, width / 2)
        )
    }

    @Test
    fun `planar frames convert to mpkit's RGB within the stated tolerance`() {
        assertEquals("bt601", spec.getString("matrix"))
        for (case in cases) {
            val (y, u, v) = planes(TestData.bytes("video_decode/" + case.getString("yuv")))
            val got = YuvConverter(YuvMatrix.BT601, spec.getBoolean("full_range"))
                .toRgb(width, height, y, u, v)
            val want = TestData.bytes("video_decode/" + case.getString("rgb"))
            val diffs = got.pixels.indices.map {
                abs((got.pixels[it].toInt() and 0xFF) - (want[it].toInt() and 0xFF))
            }
            val name = case.getString("name")
            assertTrue(diffs.max() <= tolerance.getInt("max_levels"), "$name max ${diffs.max()}")
            assertTrue(diffs.average() <= tolerance.getDouble("mean_levels"), "$name mean")
        }
    }

    @Test
    fun `a semi-planar frame with padded rows gives the same picture as the planar one`() {
        val i420 = TestData.bytes("video_decode/" + cases[0].getString("yuv"))
        val (y, u, v) = planes(i420)
        val planar = YuvConverter().toRgb(width, height, y, u, v)
        // NV12 as many decoders give it: rows padded to 192 bytes, U and V interleaved.
        val stride = 192
        val luma = ByteArray(stride * height)
        for (r in 0 until height) i420.copyInto(luma, r * stride, r * width, (r + 1) * width)
        val chroma = ByteArray(stride * height / 2)
        for (r in 0 until height / 2) {
            for (c in 0 until width / 2) {
                chroma[r * stride + 2 * c] = u.buffer.get(r * width / 2 + c)
                chroma[r * stride + 2 * c + 1] = v.buffer.get(r * width / 2 + c)
            }
        }
        val uv = ByteBuffer.wrap(chroma)
        val vu = ByteBuffer.wrap(chroma, 1, chroma.size - 1).slice()
        val padded = YuvConverter().toRgb(
            width,
            height,
            YuvPlane(ByteBuffer.wrap(luma), stride, 1),
            YuvPlane(uv, stride, 2),
            YuvPlane(vu, stride, 2)
        )
        assertContentEquals(planar.pixels, padded.pixels)
    }

    @Test
    fun `a plane too small for its strides is refused, naming the plane`() {
        val (y, u, _) = planes(TestData.bytes("video_decode/" + cases[0].getString("yuv")))
        val short = YuvPlane(ByteBuffer.wrap(ByteArray(100)), width / 2, 1)
        val e = assertFailsWith<MediaException> {
            YuvConverter().toRgb(width, height, y, u, short)
        }
        assertTrue("plane V" in e.message!!, e.message)
    }

    @Test
    fun `full range and BT709 move the colours the way their matrices say`() {
        val grey = YuvPlane(ByteBuffer.wrap(byteArrayOf(128.toByte())), 1, 1)
        val red = YuvPlane(ByteBuffer.wrap(byteArrayOf(240.toByte())), 1, 1)
        val y = YuvPlane(ByteBuffer.wrap(byteArrayOf(81)), 1, 1)
        val bt601 = YuvConverter(YuvMatrix.BT601).toRgb(1, 1, y, grey, red)
        val bt709 = YuvConverter(YuvMatrix.BT709).toRgb(1, 1, y, grey, red)
        assertTrue(
            bt601[0, 0, 0] >= 254 && bt601[0, 0, 1] <= 1,
            "BT.601 limited (81,90,240) is red"
        )
        assertTrue(bt709[0, 0, 1] > bt601[0, 0, 1], "BT.709 takes less green away for red")
        val full = YuvConverter(fullRange = true).toRgb(1, 1, grey, grey, grey)
        assertEquals(listOf(128, 128, 128), List(3) { full[0, 0, it] })
    }
}
