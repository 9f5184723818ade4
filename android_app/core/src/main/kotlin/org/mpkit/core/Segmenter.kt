package org.mpkit.core

/**
 * MediaPipe selfie segmentation (face.py's Segmenter) on the face crop: the foreground
 * probability of each pixel, in [0, 1]. The model runs on `runner` as `model` (the bundle's
 * `segmenter` helper) at its own 256² input, which is the crop's size.
 */
class Segmenter(private val runner: ComponentRunner, private val model: String = "segmenter") {
    /** [H·W] foreground probabilities, row-major. */
    fun foreground(image: RgbImage): FloatArray {
        if (image.width != SIZE || image.height != SIZE) {
            throw MpkitException(
                "the segmenter takes the $SIZE² crop, got ${image.width}x${image.height}: " +
                    "a model whose resolution is not $SIZE needs a resize here first"
            )
        }
        val outputs = runner.run(model, listOf(image.toTensor(INPUT, 255f, 0f)))
        val mask = outputs.singleOrNull { it.data.size == SIZE * SIZE }
            ?: throw ComponentException(
                "$model gives one ${SIZE}x$SIZE mask, got ${outputs.map { it.shape.toList() }}"
            )
        return FloatArray(mask.data.size) { mask.data[it].coerceIn(0f, 1f) }
    }

    companion object {
        const val SIZE = 256
        const val INPUT = "input_1"
    }
}
