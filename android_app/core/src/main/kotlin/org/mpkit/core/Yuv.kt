package org.mpkit.core

import java.nio.ByteBuffer

/**
 * One plane of a YUV_420_888 image as `android.media.Image.Plane` gives it: `buffer` from its
 * start, the bytes between rows and between neighbouring samples of a row.
 */
class YuvPlane(val buffer: ByteBuffer, val rowStride: Int, val pixelStride: Int)

/** The YCbCr matrix of a stream (MediaFormat's color-standard; camera2 YUV is BT.601). */
enum class YuvMatrix(val kr: Double, val kb: Double) {
    BT601(0.299, 0.114),
    BT709(0.2126, 0.0722)
}

/**
 * YUV 4:2:0 (any plane layout a decoder or camera gives: planar, semi-planar, padded rows) to
 * [RgbImage], in 16-bit fixed point, each 2×2 block sharing its chroma sample as ffmpeg's
 * conversion does. `fullRange` is JFIF's 0–255 (camera2); otherwise video's 16–235 / 16–240.
 */
class YuvConverter(matrix: YuvMatrix = YuvMatrix.BT601, private val fullRange: Boolean = false) {
    private val yScale: Int
    private val rv: Int
    private val gu: Int
    private val gv: Int
    private val bu: Int

    init {
        val kg = 1 - matrix.kr - matrix.kb
        val luma = if (fullRange) 1.0 else 255.0 / 219
        val chroma = if (fullRange) 1.0 else 255.0 / 224
        fun fixed(v: Double) = Math.round(v * ONE).toInt()
        yScale = fixed(luma)
        rv = fixed(2 * (1 - matrix.kr) * chroma)
        gu = fixed(2 * (1 - matrix.kb) * matrix.kb / kg * chroma)
        gv = fixed(2 * (1 - matrix.kr) * matrix.kr / kg * chroma)
        bu = fixed(2 * (1 - matrix.kb) * chroma)
    }

    /** The `width`×`height` picture at the top left of the planes (a decoder's crop origin). */
    fun toRgb(width: Int, height: Int, y: YuvPlane, u: YuvPlane, v: YuvPlane): RgbImage {
        check(y, width, height, "Y")
        check(u, (width + 1) / 2, (height + 1) / 2, "U")
        check(v, (width + 1) / 2, (height + 1) / 2, "V")
        val out = RgbImage(width, height)
        val px = out.pixels
        val lumaOffset = if (fullRange) 0 else 16
        for (row in 0 until height) {
            val yRow = row * y.rowStride
            val uRow = (row / 2) * u.rowStride
            val vRow = (row / 2) * v.rowStride
            for (col in 0 until width) {
                val luma = (
                    (y.buffer.get(yRow + col * y.pixelStride).toInt() and 0xFF) -
                        lumaOffset
                    ) * yScale
                val cb = (u.buffer.get(uRow + (col / 2) * u.pixelStride).toInt() and 0xFF) - 128
                val cr = (v.buffer.get(vRow + (col / 2) * v.pixelStride).toInt() and 0xFF) - 128
                val at = (row * width + col) * 3
                px[at] = clamp(luma + rv * cr)
                px[at + 1] = clamp(luma - gu * cb - gv * cr)
                px[at + 2] = clamp(luma + bu * cb)
            }
        }
        return out
    }

    private fun check(plane: YuvPlane, width: Int, height: Int, name: String) {
        if (plane.rowStride < 1 || plane.pixelStride < 1) {
            throw MediaException(
                "YUV plane $name has strides ${plane.rowStride}/${plane.pixelStride}"
            )
        }
        val needed = (height - 1).toLong() * plane.rowStride + (width - 1) * plane.pixelStride + 1
        if (plane.buffer.limit() < needed) {
            throw MediaException(
                "YUV plane $name holds ${plane.buffer.limit()} bytes, a ${width}x$height plane " +
                    "with row stride ${plane.rowStride} needs $needed"
            )
        }
    }

    private companion object {
        const val SHIFT = 16
        const val ONE = 1 shl SHIFT

        fun clamp(v: Int): Byte = ((v + (ONE shr 1)) shr SHIFT).coerceIn(0, 255).toByte()
    }
}
