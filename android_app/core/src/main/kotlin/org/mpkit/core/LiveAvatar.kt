package org.mpkit.core

/**
 * A live driving source (the camera, or a clip frame by frame) animating one avatar, as the
 * app's [DrivingMode] decides frame by frame: the first frame with a face anchors the relative
 * motion, later ones are rendered, and a frame without a face holds the last good output (the
 * avatar at rest before any) while the tracker looks for the face again.
 */
class LiveAvatar(
    private val pipeline: AvatarPipeline,
    val avatar: Avatar,
    manifest: Manifest,
    private val source: DrivingSource
) {
    /** The driving state, its face losses and held frames (read it from the driving thread). */
    val mode = DrivingMode(manifest).apply {
        prepareSource()
        start(source)
    }
    private var driving: Driving? = null
    private var last: RgbImage = avatar.image

    @Volatile // set from the UI thread, taken by the driving thread
    private var recenterAsked = false

    /** The frame to show for the driving `frame`: rendered, or held when it shows no face. */
    fun next(frame: RgbImage): RgbImage {
        if (recenterAsked) {
            recenterAsked = false
            mode.stop()
            mode.start(source)
        }
        val face = try {
            pipeline.faces.update(frame)
        } catch (e: NoFaceException) {
            null
        }
        when (mode.onFrame(face != null)) {
            FrameAction.PRIME -> driving = pipeline.prepareDriving(frame, face!!)
            FrameAction.RENDER -> Unit
            FrameAction.HOLD, FrameAction.DROP -> return last
        }
        last = pipeline.frame(avatar, driving!!, frame, face!!).second
        return last
    }

    /** The next frame with a face anchors the motion again (the user's neutral pose). */
    fun recenter() {
        recenterAsked = true
    }
}
