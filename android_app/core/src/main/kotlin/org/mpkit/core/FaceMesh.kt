package org.mpkit.core

import kotlin.math.atan2
import kotlin.math.cos
import kotlin.math.exp
import kotlin.math.max
import kotlin.math.min
import kotlin.math.sin

/**
 * A square region (python_tools/mpkit/landmarks/geometry.py): centre and side in pixels; `angle`
 * (radians) is the face's tilt in image coordinates (y down), its right eye → left eye line.
 */
data class Roi(val cx: Double, val cy: Double, val size: Double, val angle: Double) {
    /** 2×3 map (row-major) from image pixels into an `out`² crop of this region. */
    fun toCrop(out: Int): DoubleArray {
        val k = out / size
        val c = cos(-angle) * k
        val s = sin(-angle) * k
        return doubleArrayOf(
            c,
            -s,
            out / 2.0 - (c * cx - s * cy),
            s,
            c,
            out / 2.0 - (s * cx + c * cy)
        )
    }

    fun crop(image: RgbImage, out: Int): RgbImage = image.warpAffine(toCrop(out), out, out)

    /** (x, y, z) triples in `out`² crop pixels → image pixels (z scaled as x and y are). */
    fun fromCrop(points: FloatArray, out: Int): DoubleArray {
        val inv = invertAffine(toCrop(out))
        return DoubleArray(points.size) { i ->
            val p = i - i % 3
            val x = points[p].toDouble()
            val y = points[p + 1].toDouble()
            when (i % 3) {
                0 -> x * inv[0] + y * inv[1] + inv[2]
                1 -> x * inv[3] + y * inv[4] + inv[5]
                else -> points[i] * (size / out)
            }
        }
    }

    companion object {
        const val SCALE = 1.5

        /** MediaPipe's detection → ROI: box centre, longer side × 1.5, level with the eyes. */
        fun of(d: Detection): Roi {
            val angle = atan2(d.keypoints[3] - d.keypoints[1], d.keypoints[2] - d.keypoints[0])
            val (x0, y0, x1, y1) = d.box.toList()
            return Roi((x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * SCALE, angle)
        }

        /** The square around (x, y, z) `points`, rotated so point a → point b is level. */
        fun around(points: DoubleArray, a: Int, b: Int, scale: Double = SCALE): Roi {
            val angle = atan2(points[3 * b + 1] - points[3 * a + 1], points[3 * b] - points[3 * a])
            val c = cos(-angle)
            val s = sin(-angle)
            val lo = doubleArrayOf(Double.MAX_VALUE, Double.MAX_VALUE)
            val hi = doubleArrayOf(-Double.MAX_VALUE, -Double.MAX_VALUE)
            for (i in 0 until points.size / 3) {
                val x = points[3 * i]
                val y = points[3 * i + 1]
                val u = doubleArrayOf(x * c - y * s, x * s + y * c)
                for (j in 0..1) {
                    lo[j] = min(lo[j], u[j])
                    hi[j] = max(hi[j], u[j])
                }
            }
            val mx = (lo[0] + hi[0]) / 2
            val my = (lo[1] + hi[1]) / 2
            val size = max(hi[0] - lo[0], hi[1] - lo[1]) * scale
            return Roi(
                mx * cos(angle) - my * sin(angle),
                mx * sin(angle) + my * cos(angle),
                size,
                angle
            )
        }
    }
}

/** The mesh's 468 (x, y, z) points in image pixels and its face-presence probability. */
class MeshResult(val points: DoubleArray, val presence: Double)

/**
 * The 468-point face mesh on a rotated ROI (face.py's `mesh`): the 192² crop in [0, 1], points
 * mapped back to the image. The model runs on `runner` as `model` (the `face_mesh` helper).
 */
class FaceMesh(private val runner: ComponentRunner, private val model: String = "face_mesh") {
    fun run(image: RgbImage, roi: Roi): MeshResult =
        decode(runner.run(model, listOf(input(image, roi))), roi)

    companion object {
        const val SIZE = 192
        const val INPUT = "input_1"
        const val POINTS = 468

        fun input(image: RgbImage, roi: Roi): Tensor =
            roi.crop(image, SIZE).toTensor(INPUT, 255f, 0f)

        /** Outputs picked by size (the 1404 coordinates, the one presence logit), not by name. */
        fun decode(outputs: List<Tensor>, roi: Roi): MeshResult {
            val coords = outputs.singleOrNull { it.data.size == 3 * POINTS }
            val logit = outputs.singleOrNull { it.data.size == 1 }
            require(coords != null && logit != null) {
                "the face mesh gives ${3 * POINTS} coordinates and one presence logit, got " +
                    outputs.map { it.shape.toList() }
            }
            val presence = 1 / (1 + exp(-logit.data[0].toDouble()))
            return MeshResult(roi.fromCrop(coords.data, SIZE), presence)
        }
    }
}
