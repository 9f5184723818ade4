package org.mpkit.core

/**
 * A live driving source (the camera, or a clip frame by frame) animating one avatar: the first
 * frame with a face sets the driving reference, each frame after it gives the avatar's frame.
 * A frame without a face gives null, and the tracker looks for the face afresh on the next one.
 */
class LiveAvatar(private val pipeline: AvatarPipeline, val avatar: Avatar) {
    @Volatile // recenter() comes from the UI thread
    private var driving: Driving? = null

    /** The avatar's frame at the model's resolution, or null when `frame` shows no face. */
    fun next(frame: RgbImage): RgbImage? {
        val face = try {
            pipeline.faces.update(frame)
        } catch (e: NoFaceException) {
            return null
        }
        val reference = driving ?: pipeline.prepareDriving(frame, face).also { driving = it }
        return pipeline.frame(avatar, reference, frame, face).second
    }

    /** The next frame with a face becomes the driving reference (the user's neutral pose). */
    fun recenter() {
        driving = null
    }
}
