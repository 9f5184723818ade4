package org.mpkit.core

import kotlin.math.exp
import kotlin.math.max
import kotlin.math.min

/**
 * One face the detector found: box (x0, y0, x1, y1) and six keypoints (right eye, left eye,
 * nose, mouth, right ear, left ear; x, y pairs), in image pixels.
 */
class Detection(val box: DoubleArray, val keypoints: DoubleArray, val score: Double) {
    val area: Double get() = (box[2] - box[0]) * (box[3] - box[1])
}

/**
 * BlazeFace short range, as python_tools/mpkit/landmarks/face.py runs it: the image letterboxed
 * into 128² in [-1, 1], SSD anchors (strides 8 and 16), boxes decoded and merged by weighted NMS.
 * The model runs on `runner` as `model` (a bundle's `face_detector` helper).
 */
class FaceDetector(
    private val runner: ComponentRunner,
    private val model: String = "face_detector"
) {
    /** Every face in `image`, largest first. */
    fun detect(image: RgbImage): List<Detection> =
        decode(runner.run(model, listOf(input(image))), image.width, image.height)

    companion object {
        const val SIZE = 128
        const val INPUT = "input"
        const val MIN_SCORE = 0.5
        const val NMS_IOU = 0.3
        private val LAYERS = listOf(8 to 2, 16 to 6) // stride, anchors per cell

        /** [N, 2] normalized anchor centres (x, y pairs), in the order the model emits boxes. */
        val anchors: DoubleArray by lazy {
            val out = ArrayList<Double>()
            for ((stride, perCell) in LAYERS) {
                val n = SIZE / stride
                for (y in 0 until n) {
                    for (x in 0 until n) {
                        repeat(perCell) {
                            out += (x + 0.5) / n
                            out +=
                                (y + 0.5) / n
                        }
                    }
                }
            }
            out.toDoubleArray()
        }

        /** The letterbox: the image centred on a square canvas, scaled to SIZE² (2×3 map). */
        fun letterbox(width: Int, height: Int): DoubleArray {
            val side = max(width, height)
            val k = SIZE.toDouble() / side
            return doubleArrayOf(
                k,
                0.0,
                (side - width) / 2.0 * k,
                0.0,
                k,
                (side - height) / 2.0 * k
            )
        }

        fun input(image: RgbImage): Tensor =
            image.warpAffine(letterbox(image.width, image.height), SIZE, SIZE)
                .toTensor(INPUT, 127.5f, -1f)

        /**
         * The model's outputs (regressors, 16 per anchor; one logit per anchor) → faces in
         * pixels. Outputs are picked by size, not by name or shape (a runtime may give them flat).
         */
        fun decode(outputs: List<Tensor>, width: Int, height: Int): List<Detection> {
            val n = anchors.size / 2
            val raw = outputs.singleOrNull { it.data.size == n * 16 }?.data
            val logits = outputs.singleOrNull { it.data.size == n }?.data
            require(raw != null && logits != null) {
                "the detector gives 16 regressors and one logit per anchor ($n anchors), got " +
                    outputs.map { it.shape.toList() }
            }
            val side = max(width, height).toDouble()
            val pad = doubleArrayOf((side - width) / 2, (side - height) / 2)
            val found = ArrayList<Detection>()
            for (i in 0 until n) {
                val score = 1 / (1 + exp(-logits[i].toDouble().coerceIn(-80.0, 80.0)))
                if (score < MIN_SCORE) continue
                val r = { j: Int -> raw[i * 16 + j] / SIZE.toDouble() }
                val px = { v: Double, axis: Int -> v * side - pad[axis] }
                val cx = r(0) + anchors[2 * i]
                val cy = r(1) + anchors[2 * i + 1]
                val box = doubleArrayOf(
                    px(cx - r(2) / 2, 0),
                    px(cy - r(3) / 2, 1),
                    px(cx + r(2) / 2, 0),
                    px(cy + r(3) / 2, 1)
                )
                val kps = DoubleArray(12) { j -> px(r(4 + j) + anchors[2 * i + j % 2], j % 2) }
                found += Detection(box, kps, score)
            }
            return weightedNms(found).sortedByDescending { it.area }
        }

        /** MediaPipe's weighted NMS: overlapping detections are averaged, weighted by score. */
        fun weightedNms(detections: List<Detection>): List<Detection> {
            var order = detections.sortedByDescending { it.score }
            val out = ArrayList<Detection>()
            while (order.isNotEmpty()) {
                val (members, rest) = order.partition { iou(order[0].box, it.box) > NMS_IOU }
                val total = members.sumOf { it.score }
                val mean = { pick: (Detection) -> DoubleArray ->
                    DoubleArray(pick(members[0]).size) { j ->
                        members.sumOf { pick(it)[j] * it.score } / total
                    }
                }
                out += Detection(mean { it.box }, mean { it.keypoints }, members[0].score)
                order = rest
            }
            return out
        }

        private fun iou(a: DoubleArray, b: DoubleArray): Double {
            val w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            val h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
            val area = { r: DoubleArray -> (r[2] - r[0]) * (r[3] - r[1]) }
            return w * h / (area(a) + area(b) - w * h + 1e-9)
        }
    }
}
