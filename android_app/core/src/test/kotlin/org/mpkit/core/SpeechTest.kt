package org.mpkit.core

import java.nio.ByteBuffer
import java.nio.ByteOrder
import kotlin.math.abs
import kotlin.math.roundToInt
import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/**
 * The sample speech reader and the chunked feed on the real LibriVox speech of testdata/audio:
 * PCM16 read back within one step, every malformed or foreign file refused by name, and the
 * feed's windows those of the whole clip, in order, starting over when it ends.
 */
class SpeechTest {
    private val doc = TestData.json("audio/cases.json")
    private val spec = AudioFeatureSpec.parse(doc.getJSONObject("spec"))
    private val speech = ByteBuffer.wrap(TestData.bytes("audio/" + doc.getString("samples_file")))
        .order(ByteOrder.LITTLE_ENDIAN).let { b -> FloatArray(b.remaining() / 4) { b.getFloat() } }

    /** A WAVE file of `samples` with the given format fields and an odd-sized chunk before data. */
    private fun wav(
        samples: FloatArray,
        channels: Int = 1,
        rate: Int = spec.sampleRate,
        bits: Int = 16,
        format: Int = 1
    ): ByteArray {
        val data = samples.size * 2
        val b = ByteBuffer.allocate(12 + 24 + 9 + 1 + 8 + data).order(ByteOrder.LITTLE_ENDIAN)
        b.put("RIFF".toByteArray()).putInt(b.capacity() - 8).put("WAVE".toByteArray())
        b.put("fmt ".toByteArray()).putInt(16).putShort(format.toShort())
            .putShort(channels.toShort()).putInt(rate).putInt(rate * channels * bits / 8)
            .putShort((channels * bits / 8).toShort()).putShort(bits.toShort())
        b.put("LIST".toByteArray()).putInt(1).put(0).put(0) // an odd chunk and its pad byte
        b.put("data".toByteArray()).putInt(data)
        samples.forEach { b.putShort((it * 32767f).roundToInt().toShort()) }
        return b.array()
    }

    private fun refused(data: ByteArray): String = assertFailsWith<BundleException> {
        Wav.pcm16Mono(data, "speech.wav", spec.sampleRate)
    }.message!!

    @Test
    fun `mono 16-bit PCM reads back within one step, past other chunks`() {
        val got = Wav.pcm16Mono(wav(speech), "speech.wav", spec.sampleRate)
        assertEquals(speech.size, got.size)
        assertTrue(speech.indices.all { abs(speech[it] - got[it]) <= 1f / 32767 })
    }

    @Test
    fun `other formats, rates and broken files are refused naming the file and the fix`() {
        assertContains(refused(wav(speech, channels = 2)), "it holds format 1, 2 channel(s)")
        assertContains(refused(wav(speech, rate = 44100)), "44100 Hz")
        assertContains(refused(wav(speech, bits = 8)), "8 bits")
        assertContains(refused(wav(speech, format = 3)), "format 3")
        val good = wav(speech)
        assertContains(refused(good.copyOf(good.size - 10)), "chunk 'data' runs past the end")
        assertContains(refused("not audio at all".toByteArray()), "not a RIFF WAVE file")
        assertContains(refused(good.copyOf(46)), "no data chunk")
        val message = refused(wav(speech, channels = 2))
        assertTrue(message.startsWith("speech.wav: "), message)
        assertContains(message, "mono 16-bit PCM WAVE at 16000 Hz, as mpkit export --audio")
    }

    @Test
    fun `the feed's windows are the clip's own, in order, over and over`() {
        val fps = Benchmark.SPEECH_FPS
        val n = spec.frameCount(speech.size.toLong(), fps)
        val offline = AudioFeatureStream(spec, fps).run {
            push(speech).map { it.second } + finish().map { it.second }
        }
        assertEquals(n, offline.size)
        val feed = SpeechFeed(spec, speech, fps, spec.sampleRate / 50, "clip")
        var last = 0L
        for (i in 0 until 2 * n + 3) {
            val (window, arrived) = feed.next()
            assertContentEquals(offline[i % n], window, "frame $i")
            assertTrue(arrived >= last)
            last = arrived
        }
    }
}
