package org.mpkit.core

/**
 * The facial keypoints the model sees (python_tools/mpkit/landmarks/facial.py): a fixed subset
 * of the 468-point mesh in crop coordinates, normalised to [-1, 1], and relative motion.
 */
object FacialKeypoints {
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
}
