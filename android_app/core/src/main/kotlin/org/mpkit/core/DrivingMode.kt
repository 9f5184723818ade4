package org.mpkit.core

/** Where the driving motion comes from. */
enum class DrivingSource(val json: String) {
    CAMERA("camera"),
    VIDEO("video"),
    AUDIO("audio")
}

/** What the pipeline does with one driving frame, as [DrivingMode.onFrame] decides. */
enum class FrameAction {
    /** Anchor relative motion at this frame (`prepare_driving`), then render it. */
    PRIME,

    /** Render the frame, relative to the anchor. */
    RENDER,

    /** No face: keep showing the last good output (the avatar at rest before any) and re-detect. */
    HOLD,

    /** Paused or stopped: a frame still in flight is dropped unseen. */
    DROP
}

/** The app's driving state, from picking a photo to driving it and stopping. */
sealed class DrivingState(val label: String) {
    /** The driving source, while there is one (paused included). */
    open val source: DrivingSource? get() = null

    object Idle : DrivingState("idle")

    object SourcePrepared : DrivingState("source prepared")

    /** Driving, waiting for the first frame with a face to anchor relative motion at. */
    data class Priming(override val source: DrivingSource) : DrivingState("priming ${source.json}")

    data class Driving(override val source: DrivingSource) : DrivingState("driving ${source.json}")

    /** The face was lost while driving: holding the last good frame, re-detecting. */
    data class FaceLost(override val source: DrivingSource) :
        DrivingState("face lost ${source.json}")

    /** Paused in `from` (a [Priming], [Driving] or [FaceLost] state), resumed into it. */
    data class Paused(val from: DrivingState) : DrivingState("paused (${from.label})") {
        override val source: DrivingSource? get() = from.source
    }

    /** Driving stopped; the prepared source is kept, so driving can start again. */
    object Stopped : DrivingState("stopped")
}

/** An action the current [DrivingState] does not allow; the message names both and the allowed. */
class DrivingStateException(message: String) : MpkitException(message)

/**
 * The driving-mode state machine: idle → source prepared → priming(source) → driving(source),
 * with pause/resume, stop, switching source and face loss. Relative motion is anchored at the
 * first driving frame with a face of each source (Python's `prepare_driving`), so starting or
 * switching a source primes again. Audio driving needs an audio component in the bundle
 * (a component in stage [ModelBundle.AUDIO_STAGE]); without one it is refused, never imitated.
 */
class DrivingMode(manifest: Manifest) {
    private val hasAudio = manifest.components.any { it.stage == ModelBundle.AUDIO_STAGE }

    var state: DrivingState = DrivingState.Idle
        private set

    /** Times the face was lost while driving (each followed by re-detection). */
    var faceLosses = 0
        private set

    /** Frames answered with [FrameAction.HOLD]. */
    var heldFrames = 0
        private set

    /** The source photo was prepared (a new photo replaces the previous one). */
    fun prepareSource() {
        check("prepareSource")
        state = DrivingState.SourcePrepared
    }

    /** Starts driving from `source`; its first frame with a face becomes the anchor. */
    fun start(source: DrivingSource) {
        check("start")
        state = DrivingState.Priming(supported(source))
    }

    /**
     * Drives from another source, anchored again at its first frame with a face; paused
     * driving stays paused.
     */
    fun switchTo(source: DrivingSource) {
        check("switchTo")
        if (state.source == source) {
            throw DrivingStateException(
                "cannot switchTo(${source.json}) in state ${state.label}: already driving " +
                    "from ${source.json}; allowed here: ${allowed().joinToString()}"
            )
        }
        val primed = DrivingState.Priming(supported(source))
        state = if (state is DrivingState.Paused) DrivingState.Paused(primed) else primed
    }

    fun pause() {
        check("pause")
        state = DrivingState.Paused(state)
    }

    fun resume() {
        check("resume")
        state = (state as DrivingState.Paused).from
    }

    /** Stops driving; the prepared source is kept. */
    fun stop() {
        check("stop")
        state = DrivingState.Stopped
    }

    /** What to do with a driving frame in which the face tracker found a face, or not. */
    fun onFrame(face: Boolean): FrameAction {
        check("onFrame")
        val s = state
        val (next, action) = when {
            s is DrivingState.Paused || s is DrivingState.Stopped -> s to FrameAction.DROP

            s is DrivingState.Priming && !face -> s to FrameAction.HOLD

            s is DrivingState.Priming -> DrivingState.Driving(s.source) to FrameAction.PRIME

            // Driving, or found again after a loss (the anchor is kept).
            face -> DrivingState.Driving(s.source!!) to FrameAction.RENDER

            else -> DrivingState.FaceLost(s.source!!) to FrameAction.HOLD
        }
        if (state is DrivingState.Driving && next is DrivingState.FaceLost) faceLosses++
        if (action == FrameAction.HOLD) heldFrames++
        state = next
        return action
    }

    /** The actions the current state allows. */
    fun allowed(): List<String> = allowedIn(state)

    private fun supported(source: DrivingSource): DrivingSource {
        if (source == DrivingSource.AUDIO && !hasAudio) {
            throw DrivingStateException(
                "driving from audio is not supported yet: the bundle has no audio component " +
                    "(no component in stage '${ModelBundle.AUDIO_STAGE}'); drive it from the camera or a video"
            )
        }
        return source
    }

    private fun check(action: String) {
        if (action !in allowed()) {
            throw DrivingStateException(
                "cannot $action in state ${state.label}; allowed here: ${allowed().joinToString()}"
            )
        }
    }

    companion object {
        /**
         * The actions each state allows: the one table every check reads. Frames still in
         * flight after pause or stop are allowed (and dropped): camera callbacks race them.
         */
        fun allowedIn(state: DrivingState): List<String> = when (state) {
            DrivingState.Idle -> listOf("prepareSource")
            DrivingState.SourcePrepared -> listOf("prepareSource", "start")
            DrivingState.Stopped -> listOf("prepareSource", "start", "onFrame")
            is DrivingState.Paused -> listOf("onFrame", "switchTo", "resume", "stop")
            else -> listOf("onFrame", "switchTo", "pause", "stop") // priming, driving, face lost
        }
    }
}
