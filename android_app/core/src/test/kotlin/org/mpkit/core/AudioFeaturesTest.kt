package org.mpkit.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.abs
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/**
 * The audio front end against Python's golden fixtures (testdata/audio/, written by
 * `python -m mpkit.audio.golden` from real LibriVox speech): the log-mel frames within the
 * fixture's tolerance (both sides use float64 FFTs; the stored values are float32), the frame
 * timing exactly, and streaming equal to offline.
 */
class AudioFeaturesTest {
    private val doc = TestData.json("audio/cases.json")
    private val spec = AudioFeatureSpec.parse(doc.getJSONObject("spec"))
    private val samples = floats("audio/" + doc.getString("samples_file"))
    private val first = doc.getInt("first_mel_frame")

    private fun floats(name: String): FloatArray {
        val buffer = ByteBuffer.wrap(TestData.bytes(name)).order(ByteOrder.LITTLE_ENDIAN)
        return FloatArray(buffer.remaining() / 4) { buffer.getFloat() }
    }

    @Test
    fun `log-mel frames are Python's within the stated tolerance`() {
        val want = floats("audio/" + doc.getString("mel_file"))
        val got = spec.melFrames(samples, first, doc.getInt("mel_frames"))
        assertEquals(want.size, got.size)
        val worst = want.indices.maxOf { abs(want[it] - got[it]) }
        val tolerance = doc.getJSONObject("tolerance").getDouble("log_mel")
        assertTrue(worst <= tolerance, "worst log-mel difference $worst > $tolerance")
        // not trivially equal: the frames hold speech and silence floors
        assertTrue(want.maxOrNull()!! - want.minOrNull()!! > 10f)
    }

    @Test
    fun `frame timing and look-ahead are Python's exactly`() {
        val cases = doc.getJSONArray("cases")
        for (c in 0 until cases.length()) {
            val case = cases.getJSONObject(c)
            val fps = case.getDouble("fps")
            assertEquals(case.getInt("frames"), spec.frameCount(samples.size.toLong(), fps))
            val newest = case.getJSONArray("newest_mel_frame")
            val needed = case.getJSONArray("samples_needed")
            for (i in 0 until newest.length()) {
                assertEquals(newest.getInt(i), spec.newestFrame(i, fps), "frame $i at $fps fps")
                assertEquals(needed.getLong(i), spec.samplesNeeded(i, fps), "frame $i at $fps fps")
            }
        }
    }

    @Test
    fun `streaming in uneven chunks gives the offline windows as soon as complete`() {
        val fps = 30.0
        val mel = spec.melFrames(samples, first, doc.getInt("mel_frames"))
        val stream = AudioFeatureStream(spec, fps)
        val got = mutableMapOf<Int, FloatArray>()
        var at = 0
        var size = 1
        while (at < samples.size) {
            val chunk = samples.copyOfRange(at, minOf(samples.size, at + size))
            for ((i, window) in stream.push(chunk)) {
                val needed = spec.samplesNeeded(i, fps)
                assertTrue(
                    at < needed && needed <= at + chunk.size,
                    "frame $i emitted late or early"
                )
                got[i] = window
            }
            at += chunk.size
            size = size * 7 % 1999 + 1
        }
        for ((i, window) in stream.finish()) got[i] = window
        val frames = spec.frameCount(samples.size.toLong(), fps)
        assertEquals((0 until frames).toList(), got.keys.sorted())
        for (i in 0 until frames) {
            val want = spec.window(mel, first, i, fps)
            assertTrue(want.contentEquals(got[i]!!), "frame $i")
        }
    }

    @Test
    fun `audio shorter than one window is refused with its length`() {
        val e =
            assertFailsWith<MpkitException> {
                AudioFeatureStream(spec, 25.0).apply { push(FloatArray(320)) }.finish("clip")
            }
        assertTrue(
            e.message!!.startsWith("clip: 20 ms of audio, shorter than one feature window (25 ms)"),
            e.message
        )
    }

    @Test
    fun `an fft that is not a power of two is refused`() {
        val json = doc.getJSONObject("spec").put("fft", 500)
        assertFailsWith<BundleException> { AudioFeatureSpec.parse(json) }
    }
}
