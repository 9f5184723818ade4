package org.mpkit.core

import java.util.Locale

/** No face in an image or frame; the message names which. */
class NoFaceException(message: String) : MpkitException(message)

/**
 * One face's 468 (x, y, z) points in image pixels. `roi` is where the mesh looked; `redetected`
 * says the detector ran for this frame (it found `facesFound` faces; the largest is this one).
 */
class FaceLandmarks(
    val points: DoubleArray,
    val presence: Double,
    val roi: Roi,
    val redetected: Boolean,
    val facesFound: Int
) {
    /** The (x, y) pairs, as [FaceCrop.fromMesh] takes them. */
    fun xy(): DoubleArray = DoubleArray(points.size / 3 * 2) { points[it / 2 * 3 + it % 2] }
}

/**
 * Landmarks frame after frame (face.py's FaceTracker): the next ROI comes from the previous
 * points, levelled with the outer eye corners; the detector runs again only when the mesh loses
 * the face. A frame without a face throws [NoFaceException] and keeps the last ROI.
 */
class FaceTracker(
    private val detector: FaceDetector,
    private val mesh: FaceMesh,
    private val name: String = "video"
) {
    var roi: Roi? = null
        private set

    /** Frames seen, and of them the ones the detector ran on and the ones with no face. */
    var frames = 0
        private set
    var redetections = 0
        private set
    var lost = 0
        private set

    fun update(frame: RgbImage): FaceLandmarks {
        val index = frames++
        val last = roi
        val tracked = last?.let { r ->
            mesh.run(frame, r).takeIf { it.presence >= MIN_PRESENCE }?.let {
                FaceLandmarks(it.points, it.presence, r, redetected = false, facesFound = 1)
            }
        }
        val result = tracked ?: try {
            redetections++
            landmarks(frame, "$name frame $index")
        } catch (e: NoFaceException) {
            lost++
            throw e
        }
        roi = trackingRoi(result.points)
        return result
    }

    /** The largest face in a still image (no tracking); [NoFaceException] naming `what`. */
    fun landmarks(image: RgbImage, what: String): FaceLandmarks {
        val faces = detector.detect(image)
        if (faces.isEmpty()) throw NoFaceException("$what: no face found")
        val found = mesh.run(image, Roi.of(faces[0]))
        if (found.presence < MIN_PRESENCE) {
            throw NoFaceException(
                "$what: a face was detected but the face mesh rejected it (presence " +
                    "%.2f)".format(Locale.ROOT, found.presence)
            )
        }
        return FaceLandmarks(
            found.points,
            found.presence,
            trackingRoi(found.points),
            true,
            faces.size
        )
    }

    companion object {
        const val MIN_PRESENCE = 0.5
        const val RIGHT_EYE_CORNER = 33 // mesh points that level the tracking ROI
        const val LEFT_EYE_CORNER = 263

        fun trackingRoi(points: DoubleArray): Roi =
            Roi.around(points, RIGHT_EYE_CORNER, LEFT_EYE_CORNER)
    }
}
