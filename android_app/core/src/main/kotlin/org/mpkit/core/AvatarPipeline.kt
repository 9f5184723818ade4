package org.mpkit.core

/** Everything the frame stage needs about the source photo, computed once. */
class Avatar(
    /** The photo's face crop at the model's resolution. */
    val image: RgbImage,
    val source: Tensor,
    val sourceSmall: Tensor,
    val masks: Tensor,
    val background: Tensor,
    val kp: Tensor,
    val multiview: Tensor,
    val facesFound: Int
)

/** The driving video's crop and its first frame's keypoints (for relative motion). */
class Driving(val crop: FaceCrop, val kpInitial: Tensor)

/**
 * The avatar pipeline (python_tools/mpkit/pipeline/animator.py), its components and face models
 * run by `runner` under their manifest names: the source stage once per photo, from the photo
 * and the bundle's pose bank alone, then the frame stage per driving frame. Tensor names and
 * sizes come from the manifest.
 */
class AvatarPipeline(
    private val manifest: Manifest,
    private val runner: ComponentRunner,
    private val poseBank: PoseBank,
    val faces: FaceTracker = FaceTracker(FaceDetector(runner), FaceMesh(runner)),
    private val segmenter: Segmenter = Segmenter(runner)
) {
    private val keypoints = manifest.component("keypoints")
    private val denseMotion = manifest.component("dense_motion")
    private val multiview = manifest.component("multiview")
    private val synthesis = manifest.component("synthesis")
    private val audio = manifest.components.firstOrNull { it.stage == ModelBundle.AUDIO_STAGE }
    private val resolution = keypoints.inputs[0].shape[2]
    private val small = denseMotion.inputs[0].shape[2]

    init {
        if (poseBank.views != manifest.views) {
            throw BundleException(
                "the pose bank has ${poseBank.views} poses, the bundle's multiview takes " +
                    "${manifest.views}: export the bundle again"
            )
        }
    }

    /**
     * The source stage: crop, facial keypoints, masks, pseudo background, keypoints, and the
     * multiview features of the source moved to the pose bank's T poses.
     */
    fun prepareSource(photo: RgbImage, name: String = "source"): Avatar {
        val face = faces.landmarks(photo, name)
        val crop = FaceCrop.fromMesh(face.xy())
        val cropped = crop.apply(photo, resolution)
        val facial = facialInput(face, crop)
        val foreground = segmenter.foreground(cropped)
        val background = Inpaint.pseudoBackground(
            FloatArray(cropped.pixels.size) { (cropped.pixels[it].toInt() and 0xFF).toFloat() },
            foreground,
            resolution,
            resolution
        )
        val source = planar(cropped)
        val masks = Resample.area(foreground, 1, resolution, small) +
            FacialKeypoints.facialMask(facial.data, small)
        val sourceSmall = Resample.antialiasedBilinear(source.data, 3, resolution, small)
        val motionIns = denseMotion.inputs
        val smallT = Tensor(motionIns[0].name, intArrayOf(1, 3, small, small), sourceSmall)
        val masksT = Tensor(motionIns[1].name, intArrayOf(1, 2, small, small), masks)
        val kp = run(keypoints, listOf(source, facial))[0]
        val plane = resolution * resolution
        val backgroundT = Tensor(
            multiview.inputs[1].name,
            source.shape,
            FloatArray(background.size) { background[(it % plane) * 3 + it / plane] / 255f }
        )
        val views = poseBank.apply(kp.data).map { view ->
            val moved = Tensor(motionIns[3].name, kp.shape, view)
            run(denseMotion, listOf(smallT, masksT, kp, moved))
        }
        val stacked = multiview.inputs.drop(2).mapIndexed { i, spec ->
            Tensor(spec.name, spec.shape.toIntArray(), concat(views.map { it[i].data }))
        }
        val features = run(multiview, listOf(source, backgroundT) + stacked)[0]
        return Avatar(
            cropped,
            source,
            smallT,
            masksT,
            backgroundT,
            kp,
            features,
            face.facesFound
        )
    }

    /** The driving crop and reference keypoints, from the first driving frame alone. */
    fun prepareDriving(first: RgbImage, name: String = "driving"): Driving =
        prepareDriving(first, faces.landmarks(first, "$name frame 0"))

    /** The same, from the first driving frame's `face` as the tracker found it. */
    fun prepareDriving(first: RgbImage, face: FaceLandmarks): Driving {
        val crop = FaceCrop.fromMesh(face.xy())
        return Driving(crop, drivingKp(crop.apply(first, resolution), face, crop))
    }

    /** The frame stage: (the driving crop, the generated frame) at the model's resolution. */
    fun frame(
        avatar: Avatar,
        driving: Driving,
        frame: RgbImage,
        face: FaceLandmarks
    ): Pair<RgbImage, RgbImage> {
        val frameCrop = driving.crop.apply(frame, resolution)
        val kp = drivingKp(frameCrop, face, driving.crop)
        val relative = FloatArray(kp.data.size) {
            avatar.kp.data[it] + (kp.data[it] - driving.kpInitial.data[it])
        }
        return frameCrop to render(avatar, Tensor(denseMotion.inputs[3].name, kp.shape, relative))
    }

    /**
     * The frame stage driven by speech: the audio component moves the source keypoints by the
     * mouth that `mel` (one video frame's feature window, [mels][context] row-major) implies.
     */
    fun speak(avatar: Avatar, mel: FloatArray): RgbImage {
        val component = audio ?: throw BundleException(
            "this bundle has no audio component (none in stage '${ModelBundle.AUDIO_STAGE}'): " +
                "export it with mpkit export --audio"
        )
        val spec = component.inputs[0]
        val kp = run(component, listOf(Tensor(spec.name, spec.shape.toIntArray(), mel), avatar.kp))
        return render(avatar, kp[0])
    }

    /** The generated frame for driving keypoints `kp` (dense motion, then synthesis). */
    private fun render(avatar: Avatar, kp: Tensor): RgbImage {
        val motion = run(denseMotion, listOf(avatar.sourceSmall, avatar.masks, avatar.kp, kp))
        val image = run(
            synthesis,
            listOf(avatar.source, avatar.background, avatar.multiview) + motion
        )[0]
        return toImage(image)
    }

    private fun drivingKp(frameCrop: RgbImage, face: FaceLandmarks, crop: FaceCrop): Tensor =
        run(keypoints, listOf(planar(frameCrop), facialInput(face, crop)))[0]

    private fun facialInput(face: FaceLandmarks, crop: FaceCrop): Tensor {
        val unit = FacialKeypoints.of(face.xy(), FacialKeypoints.INDICES, crop, resolution)
        val spec = keypoints.inputs[1]
        return Tensor(
            spec.name,
            spec.shape.toIntArray(),
            FloatArray(unit.size) { unit[it].toFloat() }
        )
    }

    /** The image as the [1, 3, H, W] tensor in [0, 1] a component's first input takes. */
    private fun planar(image: RgbImage): Tensor = Tensor(
        keypoints.inputs[0].name,
        intArrayOf(1, 3, image.height, image.width),
        FloatArray(image.pixels.size) {
            rgbPlanar(image.pixels, it, image.width * image.height) / 255f
        }
    )

    /** Runs `component` with `inputs` renamed to its manifest input names, in order. */
    private fun run(component: ComponentEntry, inputs: List<Tensor>): List<Tensor> {
        if (inputs.size != component.inputs.size) {
            throw ComponentException(
                "${component.name} takes ${component.inputs.size} inputs, the pipeline gives " +
                    "${inputs.size}"
            )
        }
        val named = inputs.zip(component.inputs) { t, spec -> Tensor(spec.name, t.shape, t.data) }
        return try {
            runner.run(component.name, named)
        } catch (e: MpkitException) {
            throw ComponentException("${component.name} failed: ${e.message}")
        } catch (e: RuntimeException) {
            throw ComponentException(
                "${component.name} failed: ${e.javaClass.simpleName}: ${e.message}"
            )
        }
    }

    private fun toImage(t: Tensor): RgbImage {
        val (h, w) = t.shape[2] to t.shape[3]
        val out = RgbImage(w, h)
        for (c in 0 until 3) {
            for (y in 0 until h) {
                for (x in 0 until w) {
                    val v = t.data[(c * h + y) * w + x].coerceIn(0f, 1f) * 255f + 0.5f
                    out[x, y, c] = v.toInt()
                }
            }
        }
        return out
    }

    private companion object {
        /** Planar value `i` ([C, H, W]) of interleaved RGB `pixels` of `plane` pixels. */
        fun rgbPlanar(pixels: ByteArray, i: Int, plane: Int): Int =
            pixels[(i % plane) * 3 + i / plane].toInt() and 0xFF

        fun concat(parts: List<FloatArray>): FloatArray {
            val out = FloatArray(parts.sumOf { it.size })
            var at = 0
            for (p in parts) {
                p.copyInto(out, at)
                at += p.size
            }
            return out
        }
    }
}
