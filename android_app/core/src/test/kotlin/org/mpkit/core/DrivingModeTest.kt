package org.mpkit.core

import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import org.mpkit.core.DrivingSource.AUDIO
import org.mpkit.core.DrivingSource.CAMERA
import org.mpkit.core.DrivingSource.VIDEO
import org.mpkit.core.DrivingState.Driving
import org.mpkit.core.DrivingState.FaceLost
import org.mpkit.core.DrivingState.Paused
import org.mpkit.core.DrivingState.Priming
import org.mpkit.core.FrameAction.DROP
import org.mpkit.core.FrameAction.HOLD
import org.mpkit.core.FrameAction.PRIME
import org.mpkit.core.FrameAction.RENDER

/** The driving-mode state machine: every transition, every refused one, on the golden bundle. */
class DrivingModeTest {
    private val golden = Manifest.parse(TestData.bytes(TestData.MANIFEST), TestData.MANIFEST)

    private fun withAudio() =
        Manifest.parse(TestData.audioManifest().toString().toByteArray(), "audio.json")

    private fun prepared() = DrivingMode(golden).apply { prepareSource() }

    private fun driving(source: DrivingSource = CAMERA) = prepared().apply {
        start(source)
        assertEquals(PRIME, onFrame(true))
    }

    /** Each state the machine can be in, reached through its public actions. */
    private val states: Map<String, () -> DrivingMode> = linkedMapOf(
        "idle" to { DrivingMode(golden) },
        "source prepared" to ::prepared,
        "priming camera" to { prepared().apply { start(CAMERA) } },
        "driving camera" to { driving() },
        "face lost camera" to { driving().apply { onFrame(false) } },
        "paused (driving camera)" to { driving().apply { pause() } },
        "stopped" to { driving().apply { stop() } }
    )

    private val running = listOf("onFrame", "switchTo", "pause", "stop")
    private val allowed = mapOf(
        "idle" to listOf("prepareSource"),
        "source prepared" to listOf("prepareSource", "start"),
        "priming camera" to running,
        "driving camera" to running,
        "face lost camera" to running,
        "paused (driving camera)" to listOf("onFrame", "switchTo", "resume", "stop"),
        "stopped" to listOf("prepareSource", "start", "onFrame")
    )

    private val actions: Map<String, (DrivingMode) -> Unit> = linkedMapOf(
        "prepareSource" to { it.prepareSource() },
        "start" to { it.start(VIDEO) },
        "switchTo" to { it.switchTo(VIDEO) },
        "pause" to { it.pause() },
        "resume" to { it.resume() },
        "stop" to { it.stop() },
        "onFrame" to { it.onFrame(true) }
    )

    @Test
    fun `a photo, then camera driving anchored at its first frame with a face, then stop`() {
        val m = DrivingMode(golden)
        assertEquals(DrivingState.Idle, m.state)
        m.prepareSource()
        assertEquals(DrivingState.SourcePrepared, m.state)
        m.start(CAMERA)
        assertEquals(Priming(CAMERA), m.state)
        assertEquals(HOLD, m.onFrame(false)) // no face yet: nothing to anchor at
        assertEquals(Priming(CAMERA), m.state)
        assertEquals(PRIME, m.onFrame(true))
        assertEquals(Driving(CAMERA), m.state)
        assertEquals(RENDER, m.onFrame(true))
        m.stop()
        assertEquals(DrivingState.Stopped, m.state)
        assertEquals(DROP, m.onFrame(true)) // a frame still in flight
        m.start(VIDEO) // the source is kept: drive it again, anchored anew
        assertEquals(Priming(VIDEO), m.state)
        assertEquals(PRIME, m.onFrame(true))
        m.stop()
        m.prepareSource() // another photo
        assertEquals(DrivingState.SourcePrepared, m.state)
    }

    @Test
    fun `pause drops frames and resume returns to the state it paused`() {
        for (paused in listOf(Priming(VIDEO), Driving(VIDEO), FaceLost(VIDEO))) {
            val m = prepared().apply { start(VIDEO) }
            if (paused != Priming(VIDEO)) m.onFrame(true)
            if (paused == FaceLost(VIDEO)) m.onFrame(false)
            assertEquals(paused, m.state)
            m.pause()
            assertEquals(Paused(paused), m.state)
            assertEquals(DROP, m.onFrame(true))
            assertEquals(DROP, m.onFrame(false))
            assertEquals(Paused(paused), m.state)
            m.resume()
            assertEquals(paused, m.state)
        }
        val m = driving().apply { pause() }
        m.stop()
        assertEquals(DrivingState.Stopped, m.state)
    }

    @Test
    fun `a lost face holds the last good frame, re-detects, and is counted`() {
        val m = driving()
        assertEquals(HOLD, m.onFrame(false))
        assertEquals(FaceLost(CAMERA), m.state)
        assertEquals(HOLD, m.onFrame(false))
        assertEquals(1, m.faceLosses)
        assertEquals(2, m.heldFrames)
        // Found again: rendered relative to the same anchor, not primed again.
        assertEquals(RENDER, m.onFrame(true))
        assertEquals(Driving(CAMERA), m.state)
        m.onFrame(false)
        assertEquals(2, m.faceLosses)
        assertEquals(3, m.heldFrames)
    }

    @Test
    fun `frames without a face while priming are held, not counted as losses`() {
        val m = prepared().apply { start(VIDEO) }
        repeat(3) { assertEquals(HOLD, m.onFrame(false)) }
        assertEquals(0, m.faceLosses)
        assertEquals(3, m.heldFrames)
        assertEquals(PRIME, m.onFrame(true))
    }

    @Test
    fun `switching source primes again at the new source's first frame with a face`() {
        for (from in listOf<(DrivingMode) -> Unit>({}, { it.onFrame(false) })) {
            val m = driving(CAMERA).also(from)
            m.switchTo(VIDEO)
            assertEquals(Priming(VIDEO), m.state)
            assertEquals(HOLD, m.onFrame(false))
            assertEquals(PRIME, m.onFrame(true))
            assertEquals(Driving(VIDEO), m.state)
        }
        val priming = prepared().apply { start(CAMERA) }
        priming.switchTo(VIDEO)
        assertEquals(Priming(VIDEO), priming.state)
    }

    @Test
    fun `switching while paused stays paused and resumes priming the new source`() {
        val m = driving(VIDEO).apply { pause() }
        m.switchTo(CAMERA)
        assertEquals(Paused(Priming(CAMERA)), m.state)
        assertEquals(DROP, m.onFrame(true))
        m.resume()
        assertEquals(Priming(CAMERA), m.state)
        assertEquals(PRIME, m.onFrame(true))
    }

    @Test
    fun `switching to the source already driving is refused naming it`() {
        for (m in listOf(driving(CAMERA), driving(CAMERA).apply { pause() })) {
            val before = m.state
            val e = assertFailsWith<DrivingStateException> { m.switchTo(CAMERA) }
            assertContains(e.message!!, "cannot switchTo(camera) in state ${before.label}")
            assertContains(e.message!!, "already driving from camera; allowed here: ")
            assertEquals(before, m.state)
        }
    }

    @Test
    fun `audio is refused while the bundle has no audio component, never imitated`() {
        val m = prepared()
        val e = assertFailsWith<DrivingStateException> { m.start(AUDIO) }
        assertEquals(
            "driving from audio is not supported yet: the bundle has no audio component (no " +
                "component in stage 'audio'); drive it from the camera or a video",
            e.message
        )
        assertEquals(DrivingState.SourcePrepared, m.state)
        val d = driving(VIDEO)
        assertContains(
            assertFailsWith<DrivingStateException> { d.switchTo(AUDIO) }.message!!,
            "not supported yet: the bundle has no audio component"
        )
        assertEquals(Driving(VIDEO), d.state)
    }

    @Test
    fun `audio drives when the manifest has an audio component`() {
        val m = DrivingMode(withAudio()).apply { prepareSource() }
        m.start(AUDIO)
        assertEquals(Priming(AUDIO), m.state)
        assertEquals(PRIME, m.onFrame(true))
        m.switchTo(CAMERA)
        m.switchTo(AUDIO)
        assertEquals(Priming(AUDIO), m.state)
    }

    @Test
    fun `each state allows exactly its actions`() {
        for ((label, make) in states) {
            val m = make()
            assertEquals(label, m.state.label)
            assertEquals(allowed.getValue(label), m.allowed(), label)
        }
    }

    @Test
    fun `every allowed action is taken`() {
        for ((label, make) in states) {
            for (action in allowed.getValue(label)) {
                val m = make()
                val switchToSelf = action == "switchTo" && m.state.source == VIDEO
                if (!switchToSelf) actions.getValue(action)(m) // throws if refused
            }
        }
    }

    @Test
    fun `every other action is an error naming the state and the allowed actions`() {
        var refused = 0
        for ((label, make) in states) {
            for ((action, run) in actions) {
                if (action in allowed.getValue(label)) continue
                val m = make()
                val e = assertFailsWith<DrivingStateException>("$action in $label") { run(m) }
                assertEquals(
                    "cannot $action in state $label; allowed here: " +
                        allowed.getValue(label).joinToString(),
                    e.message
                )
                assertEquals(label, m.state.label, "a refused $action changed the state")
                refused++
            }
        }
        assertEquals(7 * 7 - allowed.values.sumOf { it.size }, refused)
    }
}
