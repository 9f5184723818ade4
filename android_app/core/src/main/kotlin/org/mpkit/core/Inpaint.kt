package org.mpkit.core

import kotlin.math.floor

/**
 * The source stage's pseudo background as python_tools/mpkit/pipeline/inpaint.py computes it:
 * the foreground (> [FOREGROUND_THRESHOLD]) dilated by a square max filter, then filled by a
 * mask-aware push-pull pyramid. Every float32 operation is Python's, in the same order, so the
 * two agree to the last bit (testdata/source_stage/ holds the shared fixtures).
 *
 * Images are row-major `height`×`width` pixels of `channels` interleaved values (RGB 0..255).
 */
object Inpaint {
    const val FOREGROUND_THRESHOLD = 0.5f
    const val DILATE_FRACTION = 0.03
    const val EMPTY_FILL = 128f

    fun dilationSide(height: Int): Int = maxOf(3, (height * DILATE_FRACTION).toInt() or 1)

    /** Square max filter of odd [side], the window clipped at the border: rows, then columns. */
    fun dilate(mask: BooleanArray, width: Int, height: Int, side: Int): BooleanArray {
        require(mask.size == width * height) { "mask has ${mask.size} values, not $width×$height" }
        val r = side / 2
        return maxPass(
            maxPass(mask, width, height, r, alongRows = true),
            width,
            height,
            r,
            alongRows = false
        )
    }

    private fun maxPass(
        mask: BooleanArray,
        width: Int,
        height: Int,
        r: Int,
        alongRows: Boolean
    ): BooleanArray = BooleanArray(mask.size) { i ->
        val x = i % width
        val y = i / width
        if (alongRows) {
            (maxOf(0, x - r)..minOf(width - 1, x + r)).any { mask[y * width + it] }
        } else {
            (maxOf(0, y - r)..minOf(height - 1, y + r)).any { mask[it * width + x] }
        }
    }

    /** The pixels to fill: the foreground (values in [0,1]), thresholded and dilated. */
    fun backgroundMask(foreground: FloatArray, width: Int, height: Int): BooleanArray {
        val mask = BooleanArray(foreground.size) { foreground[it] > FOREGROUND_THRESHOLD }
        return dilate(mask, width, height, dilationSide(height))
    }

    private class Level(
        val width: Int,
        val height: Int,
        val total: FloatArray,
        val count: FloatArray
    )

    /** Sums over 2×2 blocks, added in the order (0,0) (0,1) (1,0) (1,1); outside adds nothing. */
    private fun pull(level: Level, channels: Int): Level {
        val w = (level.width + 1) / 2
        val h = (level.height + 1) / 2
        val total = FloatArray(w * h * channels)
        val count = FloatArray(w * h)
        for (y in 0 until h) {
            for (x in 0 until w) {
                val o = y * w + x
                for ((dy, dx) in BLOCK) {
                    val cy = 2 * y + dy
                    val cx = 2 * x + dx
                    val i = cy * level.width + cx
                    val inside = cy < level.height && cx < level.width
                    count[o] += if (inside) level.count[i] else 0f
                    for (c in 0 until channels) {
                        val v = if (inside) level.total[i * channels + c] else 0f
                        total[o * channels + c] += v
                    }
                }
            }
        }
        return Level(w, h, total, count)
    }

    private val BLOCK = listOf(0 to 0, 0 to 1, 1 to 0, 1 to 1)

    /** Parent index of child [i] and its other neighbour, clamped to [0, parents). */
    private fun parents(i: Int, parents: Int): Pair<Int, Int> {
        val p = i / 2
        val q = if (i % 2 == 0) p - 1 else p + 1
        return p to q.coerceIn(0, parents - 1)
    }

    /** [coarse] (pw×ph) doubled to width×height: along the width first, then the height. */
    private fun upsample(
        coarse: FloatArray,
        pw: Int,
        ph: Int,
        width: Int,
        height: Int,
        channels: Int
    ): FloatArray {
        val wide = FloatArray(width * ph * channels)
        for (y in 0 until ph) {
            for (x in 0 until width) {
                val (p, q) = parents(x, pw)
                for (c in 0 until channels) {
                    val a = coarse[(y * pw + p) * channels + c]
                    val b = coarse[(y * pw + q) * channels + c]
                    wide[(y * width + x) * channels + c] = 0.75f * a + 0.25f * b
                }
            }
        }
        val out = FloatArray(width * height * channels)
        for (y in 0 until height) {
            val (p, q) = parents(y, ph)
            for (x in 0 until width) {
                for (c in 0 until channels) {
                    val a = wide[(p * width + x) * channels + c]
                    val b = wide[(q * width + x) * channels + c]
                    out[(y * width + x) * channels + c] = 0.75f * a + 0.25f * b
                }
            }
        }
        return out
    }

    /**
     * [image] with every pixel under [mask] filled from the known ones: pull (mask-weighted 2×2
     * means) until a level has no unknown pixel, then push back up, each level's unknown pixels
     * taking the upsampled coarser level. Known pixels keep their values.
     */
    fun pushPull(
        image: FloatArray,
        mask: BooleanArray,
        width: Int,
        height: Int,
        channels: Int
    ): FloatArray {
        require(image.size == width * height * channels && mask.size == width * height) {
            "image has ${image.size} values and mask ${mask.size}, not $width×$height×$channels"
        }
        val count = FloatArray(mask.size) { if (mask[it]) 0f else 1f }
        val total = FloatArray(image.size) { image[it] * count[it / channels] }
        val levels = mutableListOf(Level(width, height, total, count))
        while (levels.last().count.any { it == 0f } && levels.last().count.size > 1) {
            levels.add(pull(levels.last(), channels))
        }
        var filled: FloatArray? = null
        var previous: Level? = null
        for (level in levels.asReversed()) {
            val up = if (filled == null || previous == null) {
                FloatArray(level.total.size) { EMPTY_FILL }
            } else {
                upsample(
                    filled,
                    previous.width,
                    previous.height,
                    level.width,
                    level.height,
                    channels
                )
            }
            filled = FloatArray(level.total.size) {
                val n = level.count[it / channels]
                if (n > 0f) level.total[it] / n else up[it]
            }
            previous = level
        }
        return filled!!
    }

    /** floor(x + 0.5) clamped to 0..255. */
    fun toUint8(x: Float): Int = floor(x + 0.5f).coerceIn(0f, 255f).toInt()

    /** The pseudo background (RGB 0..255 per value) of [rgb] with the [foreground] removed. */
    fun pseudoBackground(
        rgb: FloatArray,
        foreground: FloatArray,
        width: Int,
        height: Int
    ): IntArray {
        val filled = pushPull(rgb, backgroundMask(foreground, width, height), width, height, 3)
        return IntArray(filled.size) { toUint8(filled[it]) }
    }
}
