package org.mpkit.core

/**
 * A bundle's sample speech (`sample_speech`): a RIFF WAVE file of mono 16-bit PCM at the audio
 * front end's rate, as `mpkit export --audio` writes it, as samples in [-1, 1). Anything else is
 * refused naming the file, what it holds and the fix.
 */
object Wav {
    const val MAX_BYTES = 16 shl 20 // about 8 minutes at 16 kHz; a sample clip is ~100 kB

    fun pcm16Mono(data: ByteArray, name: String, sampleRate: Int): FloatArray {
        fun bad(why: String): Nothing = throw BundleException(
            "$name: $why; the app reads mono 16-bit PCM WAVE at $sampleRate Hz, as mpkit " +
                "export --audio writes it: export the bundle again"
        )
        if (data.size > MAX_BYTES) bad("${data.size} bytes, over the $MAX_BYTES byte cap")
        fun u16(at: Int) = (data[at].toInt() and 0xFF) or ((data[at + 1].toInt() and 0xFF) shl 8)
        fun u32(at: Int) = u16(at).toLong() or (u16(at + 2).toLong() shl 16)
        fun tag(at: Int) = String(data, at, 4, Charsets.ISO_8859_1)
        if (data.size < 12 || tag(0) != "RIFF" || tag(8) != "WAVE") bad("not a RIFF WAVE file")
        var format: List<Int>? = null
        var at = 12
        while (at + 8 <= data.size) {
            val size = u32(at + 4)
            if (size > data.size - at - 8) bad("chunk '${tag(at)}' runs past the end of the file")
            val body = at + 8
            when (tag(at)) {
                "fmt " -> {
                    if (size < 16) bad("its fmt chunk is $size bytes, under 16")
                    format = listOf(u16(body), u16(body + 2), u32(body + 4).toInt(), u16(body + 14))
                }

                "data" -> {
                    val (code, channels, rate, bits) = format ?: bad("its data comes before fmt")
                    if (code != 1 || channels != 1 || rate != sampleRate || bits != 16) {
                        bad("it holds format $code, $channels channel(s), $rate Hz, $bits bits")
                    }
                    return FloatArray(size.toInt() / 2) { i ->
                        (u16(body + 2 * i).toShort()) / 32768f
                    }
                }
            }
            at = body + size.toInt() + (size.toInt() and 1)
        }
        bad("it has no data chunk")
    }
}

/**
 * Speech fed to the audio front end as a microphone delivers it, `chunk` samples at a time,
 * over and over (a new stream each time the clip ends): [next] is the next video frame's
 * feature window and when the chunk that completed it arrived (System.nanoTime). Chunks arrive
 * as soon as the frames before them are done, not at recording pace.
 */
class SpeechFeed(
    private val spec: AudioFeatureSpec,
    private val samples: FloatArray,
    private val fps: Double,
    private val chunk: Int,
    private val name: String
) {
    private var stream = AudioFeatureStream(spec, fps)
    private var position = 0
    private val pending = ArrayDeque<Pair<FloatArray, Long>>()

    init {
        require(chunk > 0) { "chunk must be positive" }
        spec.checkLength(samples.size.toLong(), fps, name)
    }

    fun next(): Pair<FloatArray, Long> {
        while (pending.isEmpty()) {
            val arrived = System.nanoTime()
            val windows = if (position < samples.size) {
                val end = minOf(position + chunk, samples.size)
                stream.push(samples.copyOfRange(position, end)).also { position = end }
            } else {
                stream.finish(name).also {
                    stream = AudioFeatureStream(spec, fps)
                    position = 0
                }
            }
            windows.forEach { (_, window) -> pending += window to arrived }
        }
        return pending.removeFirst()
    }
}
