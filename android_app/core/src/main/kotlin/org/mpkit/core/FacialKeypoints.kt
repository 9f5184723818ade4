package org.mpkit.core

import kotlin.math.exp

/**
 * The facial keypoints the model sees (python_tools/mpkit/landmarks/facial.py): a fixed subset
 * of the 468-point mesh in crop coordinates, normalised to [-1, 1], and relative motion.
 */
object FacialKeypoints {
    /** The face-mesh vertices the model sees, in its order (landmarks/facial106.yaml). */
    val INDICES = intArrayOf(
        10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
        152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109, 46,
        53, 52, 65, 55, 70, 63, 105, 66, 107, 276, 283, 282, 295, 285, 300, 293, 334, 296, 336,
        33, 163, 145, 154, 133, 157, 159, 161, 263, 390, 374, 381, 362, 384, 386, 388, 6, 195, 4,
        1, 61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40,
        185, 78, 88, 87, 14, 317, 318, 308, 310, 312, 13
    )

    /** Width of each keypoint's Gaussian blob in [facialMask], in [-1, 1] units. */
    const val MASK_SIGMA = 0.03f

    /** Crop pixel (x, y) pairs → [-1, 1], -1 and 1 being the corner pixels' centres. */
    fun toUnit(xy: DoubleArray, size: Int): DoubleArray = DoubleArray(xy.size) {
        xy[it] *
            (2.0 / (size - 1)) -
            1.0
    }

    /** The points at `indices` of a mesh given as (x, y) pairs. */
    fun subset(xy: DoubleArray, indices: IntArray): DoubleArray =
        DoubleArray(indices.size * 2) { i ->
            val point = indices[i / 2]
            require(point in 0 until xy.size / 2) {
                "mesh point $point does not exist (the mesh has ${xy.size / 2})"
            }
            xy[point * 2 + i % 2]
        }

    /** The facial keypoints of a mesh in [-1, 1] coordinates of `crop` at `size`². */
    fun of(mesh: DoubleArray, indices: IntArray, crop: FaceCrop, size: Int): DoubleArray =
        toUnit(crop.pointsToCrop(subset(mesh, indices), size), size)

    /** Relative motion (FOMM/TPSMM): the source moves as the driving face moved since its first frame. */
    fun relative(
        source: DoubleArray,
        driving: DoubleArray,
        drivingFirst: DoubleArray
    ): DoubleArray {
        require(source.size == driving.size && driving.size == drivingFirst.size) {
            "keypoint sets differ in size: ${source.size}, ${driving.size}, ${drivingFirst.size}"
        }
        return DoubleArray(source.size) { source[it] + (driving[it] - drivingFirst[it]) }
    }

    /**
     * The [size]² mask of keypoints `unit` ((x, y) pairs in [-1, 1]): a Gaussian blob per point,
     * the largest value kept (facial.py's facial_mask, float32).
     */
    fun facialMask(unit: FloatArray, size: Int, sigma: Float = MASK_SIGMA): FloatArray {
        val axis = FloatArray(size) {
            if (size == 1) -1f else (-1.0 + 2.0 * it / (size - 1)).toFloat()
        }
        val points = unit.size / 2
        val gx = Array(points) { p -> FloatArray(size) { gauss(axis[it] - unit[2 * p], sigma) } }
        val gy = Array(points) { p ->
            FloatArray(size) { gauss(axis[it] - unit[2 * p + 1], sigma) }
        }
        val mask = FloatArray(size * size)
        for (p in 0 until points) {
            for (y in 0 until size) {
                for (x in 0 until size) {
                    mask[y * size + x] = maxOf(mask[y * size + x], gy[p][y] * gx[p][x])
                }
            }
        }
        return mask
    }

    private fun gauss(d: Float, sigma: Float): Float = exp(-(d * d) / (2 * sigma * sigma))
}
