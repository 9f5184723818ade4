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
