package org.mpkit.core

import kotlin.math.abs
import kotlin.math.max
import kotlin.math.min

/**
 * The image resampling the source stage needs, as the Python model does it (float32, planar
 * channels, [C, H, W] row-major).
 */
object Resample {
    /** torch `interpolate(mode="area")` to `size`² for a whole-number shrink: block means. */
    fun area(planes: FloatArray, channels: Int, side: Int, size: Int): FloatArray {
        require(side % size == 0) { "an area shrink from $side to $size is not a whole factor" }
        val k = side / size
        val out = FloatArray(channels * size * size)
        for (c in 0 until channels) {
            for (y in 0 until size) {
                for (x in 0 until size) {
                    var sum = 0f
                    for (dy in 0 until k) {
                        for (dx in 0 until k) {
                            sum += planes[(c * side + y * k + dy) * side + x * k + dx]
                        }
                    }
                    out[(c * size + y) * size + x] = sum / (k * k)
                }
            }
        }
        return out
    }

    /**
     * torch `interpolate(mode="bilinear", align_corners=False, antialias=True)` from `side`² to
     * `size`² (a shrink): a triangle filter as wide as the scale, rows first, then columns.
     */
    fun antialiasedBilinear(planes: FloatArray, channels: Int, side: Int, size: Int): FloatArray {
        val taps = triangleTaps(side, size)
        val rows = FloatArray(channels * side * size) // [C, side, size]: each row resampled
        for (c in 0 until channels) {
            for (y in 0 until side) {
                val base = (c * side + y) * side
                for (x in 0 until size) {
                    val (first, weights) = taps[x]
                    var sum = 0f
                    for (j in weights.indices) sum += planes[base + first + j] * weights[j]
                    rows[(c * side + y) * size + x] = sum
                }
            }
        }
        val out = FloatArray(channels * size * size)
        for (c in 0 until channels) {
            for (y in 0 until size) {
                val (first, weights) = taps[y]
                for (x in 0 until size) {
                    var sum = 0f
                    for (j in weights.indices) {
                        sum += rows[(c * side + first + j) * size + x] * weights[j]
                    }
                    out[(c * size + y) * size + x] = sum
                }
            }
        }
        return out
    }

    /** Per output index: the first input index and the normalised triangle weights. */
    private fun triangleTaps(side: Int, size: Int): List<Pair<Int, FloatArray>> {
        require(size in 1..side) { "antialiased resampling here only shrinks ($side to $size)" }
        val scale = side.toDouble() / size
        return List(size) { i ->
            val center = scale * (i + 0.5)
            val first = max((center - scale + 0.5).toInt(), 0)
            val last = min((center + scale + 0.5).toInt(), side)
            val raw = DoubleArray(last - first) { j ->
                max(0.0, 1.0 - abs((j + first - center + 0.5) / scale))
            }
            val total = raw.sum()
            first to FloatArray(raw.size) { (raw[it] / total).toFloat() }
        }
    }
}
