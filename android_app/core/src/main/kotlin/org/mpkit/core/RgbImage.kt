package org.mpkit.core

/** An RGB image, 8 bits per channel, rows top to bottom, channels interleaved (R, G, B). */
class RgbImage(
    val width: Int,
    val height: Int,
    val pixels: ByteArray = ByteArray(width * height * 3)
) {
    init {
        require(width > 0 && height > 0) { "an image needs a positive size, got ${width}x$height" }
        require(pixels.size == width * height * 3) {
            "${width}x$height RGB needs ${width * height * 3} bytes, got ${pixels.size}"
        }
    }

    /** Channel `c` of the pixel at column `x`, row `y`, as 0..255. */
    operator fun get(x: Int, y: Int, c: Int): Int = pixels[(y * width + x) * 3 + c].toInt() and 0xFF

    operator fun set(x: Int, y: Int, c: Int, value: Int) {
        pixels[(y * width + x) * 3 + c] = value.coerceIn(0, 255).toByte()
    }
}

/**
 * OpenCV's `warpAffine` (bilinear, outside pixels black), bit for bit: `m` (2×3, row-major) maps
 * this image's pixels to the `width`×`height` output's; each output pixel samples the source at
 * the inverse map, rounded to 1/32 px, with the fixed-point weights OpenCV uses.
 */
fun RgbImage.warpAffine(m: DoubleArray, width: Int, height: Int): RgbImage {
    require(m.size == 6) { "an affine map is 2x3, got ${m.size} values" }
    val inv = invertAffine(m)
    val out = RgbImage(width, height)
    for (y in 0 until height) {
        val x0 = Math.rint((inv[1] * y + inv[2]) * 1024).toInt() + 16
        val y0 = Math.rint((inv[4] * y + inv[5]) * 1024).toInt() + 16
        for (x in 0 until width) {
            val qx = (x0 + Math.rint(inv[0] * x * 1024).toInt()) shr 5
            val qy = (y0 + Math.rint(inv[3] * x * 1024).toInt()) shr 5
            val ix = qx shr 5
            val iy = qy shr 5
            val fx = qx and 31
            val fy = qy and 31
            val w = intArrayOf(
                (32 - fx) * (32 - fy) * 32,
                fx * (32 - fy) * 32,
                (32 - fx) * fy * 32,
                fx * fy * 32
            )
            for (c in 0 until 3) {
                var sum = 1 shl 14
                for (k in 0 until 4) {
                    val sx = ix + (k and 1)
                    val sy = iy + (k shr 1)
                    if (sx in 0 until this.width && sy in 0 until this.height) {
                        sum += this[sx, sy, c] * w[k]
                    }
                }
                out[x, y, c] = sum shr 15
            }
        }
    }
    return out
}

/** The image as a [1, H, W, 3] float32 tensor of `pixel / divisor + offset` (float arithmetic). */
fun RgbImage.toTensor(name: String, divisor: Float, offset: Float): Tensor = Tensor(
    name,
    intArrayOf(1, height, width, 3),
    FloatArray(pixels.size) { (pixels[it].toInt() and 0xFF) / divisor + offset }
)

/** The inverse of the 2x3 affine map `m` (row-major a b c / d e f); a singular map gives 0s. */
fun invertAffine(m: DoubleArray): DoubleArray {
    val det = m[0] * m[4] - m[1] * m[3]
    val d = if (det != 0.0) 1.0 / det else 0.0
    val a11 = m[4] * d
    val a22 = m[0] * d
    val a12 = -m[1] * d
    val a21 = -m[3] * d
    return doubleArrayOf(a11, a12, -a11 * m[2] - a12 * m[5], a21, a22, -a21 * m[2] - a22 * m[5])
}

/**
 * This image turned clockwise by `degrees` (0, 90, 180 or 270), then mirrored left to right if
 * `mirror`: a camera frame made upright (the sensor's orientation) and selfie-like (front camera).
 */
fun RgbImage.upright(degrees: Int, mirror: Boolean): RgbImage {
    require(degrees in listOf(0, 90, 180, 270)) {
        "a frame turns by 0, 90, 180 or 270°, not $degrees"
    }
    val turned = degrees == 90 || degrees == 270
    val out = if (turned) RgbImage(height, width) else RgbImage(width, height)
    for (y in 0 until out.height) {
        for (x in 0 until out.width) {
            val ox = if (mirror) out.width - 1 - x else x
            val (sx, sy) = when (degrees) {
                90 -> y to height - 1 - ox
                180 -> width - 1 - ox to height - 1 - y
                270 -> width - 1 - y to ox
                else -> ox to y
            }
            val from = (sy * width + sx) * 3
            val to = (y * out.width + x) * 3
            out.pixels[to] = pixels[from]
            out.pixels[to + 1] = pixels[from + 1]
            out.pixels[to + 2] = pixels[from + 2]
        }
    }
    return out
}
