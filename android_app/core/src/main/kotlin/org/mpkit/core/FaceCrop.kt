package org.mpkit.core

import kotlin.math.ceil
import kotlin.math.floor
import kotlin.math.max
import kotlin.math.min
import kotlin.math.roundToInt

/**
 * The square region of a photo or video frame the model sees (python_tools/mpkit/pipeline/
 * crop.py): top-left corner and side in source pixels, from the 468-point face mesh.
 */
data class FaceCrop(val x0: Double, val y0: Double, val side: Double) {
    /** Image pixel (x, y) pairs → crop pixel coordinates at `size`². */
    fun pointsToCrop(xy: DoubleArray, size: Int): DoubleArray {
        val k = size / side
        return DoubleArray(xy.size) { i -> (xy[i] - if (i % 2 == 0) x0 else y0) * k }
    }

    /**
     * The region resized to `size`²: when shrinking, the whole image first shrinks with an
     * area filter (OpenCV's INTER_AREA) and is then cut; bilinear sampling, edges replicated.
     */
    fun apply(image: RgbImage, size: Int): RgbImage {
        val k = size / side
        val source = if (k < 1) areaResize(image, k) else image
        val step = if (k < 1) 1.0 else k
        val out = RgbImage(size, size)
        for (y in 0 until size) {
            val sy = (y + y0 * k) / step
            for (x in 0 until size) {
                val sx = (x + x0 * k) / step
                for (c in 0 until 3) out[x, y, c] = bilinear(source, sx, sy, c).roundToInt()
            }
        }
        return out
    }

    companion object {
        const val SCALE = 1.9 // crop side / mesh extent: head, hair and a little shoulder
        const val LIFT = 0.08 // the crop moves up by this fraction of its side

        /** The crop around a face given its mesh as (x, y) pairs in image pixels. */
        fun fromMesh(xy: DoubleArray): FaceCrop {
            require(xy.size >= 2 && xy.size % 2 == 0) {
                "a mesh is (x, y) pairs, got ${xy.size} values"
            }
            var (lx, ly, hx, hy) = listOf(xy[0], xy[1], xy[0], xy[1])
            for (i in xy.indices step 2) {
                lx = min(lx, xy[i])
                hx = max(hx, xy[i])
                ly = min(ly, xy[i + 1])
                hy = max(hy, xy[i + 1])
            }
            val side = max(hx - lx, hy - ly) * SCALE
            val cx = (lx + hx) / 2
            val cy = (ly + hy) / 2 - LIFT * side
            return FaceCrop(cx - side / 2, cy - side / 2, side)
        }
    }
}

private fun bilinear(image: RgbImage, x: Double, y: Double, c: Int): Double {
    val fx = floor(x)
    val fy = floor(y)
    val ax = x - fx
    val ay = y - fy
    val x0 = fx.toInt().coerceIn(0, image.width - 1)
    val x1 = (fx.toInt() + 1).coerceIn(0, image.width - 1)
    val y0 = fy.toInt().coerceIn(0, image.height - 1)
    val y1 = (fy.toInt() + 1).coerceIn(0, image.height - 1)
    val top = image[x0, y0, c] * (1 - ax) + image[x1, y0, c] * ax
    val bottom = image[x0, y1, c] * (1 - ax) + image[x1, y1, c] * ax
    return top * (1 - ay) + bottom * ay
}

/** One output cell's source taps and weights along one axis (OpenCV's area table). */
private class AreaTaps(val index: IntArray, val weight: DoubleArray)

private fun areaTable(sourceSize: Int, outSize: Int, scale: Double): Array<AreaTaps> =
    Array(outSize) { d ->
        val start = d * scale
        val end = start + scale
        val cell = min(scale, sourceSize - start)
        val last = min(floor(end).toInt(), sourceSize - 1)
        val first = min(ceil(start).toInt(), last)
        val index = ArrayList<Int>()
        val weight = ArrayList<Double>()
        if (first - start > 1e-3) {
            index += first - 1
            weight += (first - start) / cell
        }
        for (s in first until last) {
            index += s
            weight += 1.0 / cell
        }
        if (end - last > 1e-3) {
            index += last
            weight += min(min(end - last, 1.0), cell) / cell
        }
        AreaTaps(index.toIntArray(), weight.toDoubleArray())
    }

/** `image` scaled by `k` < 1 with an area filter, the output size rounded as OpenCV rounds it. */
private fun areaResize(image: RgbImage, k: Double): RgbImage {
    val w = max(1, (image.width * k).roundToInt())
    val h = max(1, (image.height * k).roundToInt())
    val xs = areaTable(image.width, w, 1 / k)
    val ys = areaTable(image.height, h, 1 / k)
    val out = RgbImage(w, h)
    val row = DoubleArray(w * 3)
    for (y in 0 until h) {
        row.fill(0.0)
        val ty = ys[y]
        for (j in ty.index.indices) {
            val sy = ty.index[j]
            for (x in 0 until w) {
                val tx = xs[x]
                for (i in tx.index.indices) {
                    val wgt = tx.weight[i] * ty.weight[j]
                    for (c in 0 until 3) row[x * 3 + c] += image[tx.index[i], sy, c] * wgt
                }
            }
        }
        for (x in 0 until w) for (c in 0 until 3) out[x, y, c] = row[x * 3 + c].roundToInt()
    }
    return out
}
