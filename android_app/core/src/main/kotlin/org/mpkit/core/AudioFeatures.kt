package org.mpkit.core

import kotlin.math.PI
import kotlin.math.cos
import kotlin.math.floor
import kotlin.math.ln
import kotlin.math.log10
import kotlin.math.max
import kotlin.math.min
import kotlin.math.pow
import kotlin.math.sin
import org.json.JSONException
import org.json.JSONObject

/**
 * The audio front end's feature settings (python_tools/mpkit/audio/features.py, fixed in
 * models/audio_features.yaml and recorded in a bundle's manifest). Mel frame k covers samples
 * [k·hop, k·hop + window) of 16 kHz mono audio, zero outside it; video frame i gets the
 * `context` mel frames ending `lookahead` frames past floor(i / fps · sampleRate / hop).
 */
class AudioFeatureSpec(
    val sampleRate: Int,
    val window: Int,
    val hop: Int,
    val fft: Int,
    val mels: Int,
    val fminHz: Double,
    val fmaxHz: Double,
    val logFloor: Double,
    val context: Int,
    val lookahead: Int
) {
    init {
        if (sampleRate <= 0 || window <= 0 || hop <= 0 || mels <= 0 || context <= 0 ||
            lookahead < 0 || logFloor <= 0.0
        ) {
            throw BundleException("audio features: sizes must be positive (lookahead >= 0)")
        }
        if (fft < window || fft and (fft - 1) != 0) {
            throw BundleException("audio features: fft $fft must be a power of two >= window")
        }
        if (!(fminHz < fmaxHz && fmaxHz <= sampleRate / 2.0)) {
            throw BundleException("audio features: need fmin_hz < fmax_hz <= sample_rate / 2")
        }
    }

    /** The last mel frame of video frame `frame`'s window. */
    fun newestFrame(frame: Int, fps: Double): Int =
        floor(frame / fps * sampleRate / hop).toInt() + lookahead

    /** Samples that must have arrived before video frame `frame` can be emitted. */
    fun samplesNeeded(frame: Int, fps: Double): Long =
        newestFrame(frame, fps).toLong() * hop + window

    /** Video frames of `samples` of audio at `fps`: the nearest frame, halves up. */
    fun frameCount(samples: Long, fps: Double): Int =
        floor(samples.toDouble() / sampleRate * fps + 0.5).toInt()

    /** Refuses audio shorter than one mel frame or one video frame, naming `name`. */
    fun checkLength(samples: Long, fps: Double, name: String) {
        if (samples < window || frameCount(samples, fps) < 1) {
            val ms = samples * 1000 / sampleRate
            throw MpkitException(
                "$name: $ms ms of audio, shorter than one feature window " +
                    "(${window * 1000 / sampleRate} ms) or one video frame at $fps fps; give a longer clip"
            )
        }
    }

    private val hann = DoubleArray(window) { 0.5 - 0.5 * cos(2 * PI * it / window) }

    /** [mels][fft/2+1] HTK-mel triangles over the rFFT bins. */
    private val filterbank: Array<DoubleArray> = run {
        fun mel(f: Double) = 2595.0 * log10(1.0 + f / 700.0)
        val lo = mel(fminHz)
        val hi = mel(fmaxHz)
        val edges = DoubleArray(mels + 2) {
            700.0 * (10.0.pow((lo + (hi - lo) * it / (mels + 1)) / 2595.0) - 1.0)
        }
        Array(mels) { m ->
            DoubleArray(fft / 2 + 1) { b ->
                val f = b.toDouble() * sampleRate / fft
                max(
                    0.0,
                    min(
                        (f - edges[m]) / (edges[m + 1] - edges[m]),
                        (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1])
                    )
                )
            }
        }
    }

    /** Log-mel of mel frames first until first+count of `samples`, [count][mels] row-major. */
    fun melFrames(samples: FloatArray, first: Int, count: Int): FloatArray {
        val out = FloatArray(count * mels)
        val re = DoubleArray(fft)
        val im = DoubleArray(fft)
        for (k in 0 until count) {
            val start = (first + k).toLong() * hop
            re.fill(0.0)
            im.fill(0.0)
            for (j in 0 until window) {
                val at = start + j
                if (at >= 0 && at < samples.size) re[j] = samples[at.toInt()] * hann[j]
            }
            fftInPlace(re, im)
            for (m in 0 until mels) {
                var sum = 0.0
                val filter = filterbank[m]
                for (b in filter.indices) {
                    if (filter[b] != 0.0) sum += (re[b] * re[b] + im[b] * im[b]) * filter[b]
                }
                out[k * mels + m] = ln(max(sum, logFloor)).toFloat()
            }
        }
        return out
    }

    /** Video frame `frame`'s window of `melFrames(samples, first, …)`: [mels][context] row-major. */
    fun window(mel: FloatArray, first: Int, frame: Int, fps: Double): FloatArray {
        val oldest = newestFrame(frame, fps) - context + 1 - first
        return FloatArray(mels * context) { i -> mel[(oldest + i % context) * mels + i / context] }
    }

    /** As a manifest's `audio_features` object. */
    fun toJson(): JSONObject = JSONObject()
        .put("sample_rate", sampleRate).put("window", window).put("hop", hop).put("fft", fft)
        .put("mels", mels).put("fmin_hz", fminHz).put("fmax_hz", fmaxHz)
        .put("log_floor", logFloor).put("context", context).put("lookahead", lookahead)

    companion object {
        /** The `audio_features` object of a manifest. */
        fun parse(json: JSONObject): AudioFeatureSpec = try {
            AudioFeatureSpec(
                json.getInt("sample_rate"), json.getInt("window"), json.getInt("hop"),
                json.getInt("fft"), json.getInt("mels"), json.getDouble("fmin_hz"),
                json.getDouble("fmax_hz"), json.getDouble("log_floor"), json.getInt("context"),
                json.getInt("lookahead")
            )
        } catch (e: JSONException) {
            throw BundleException("audio features: ${e.message}")
        }

        /** Iterative radix-2 FFT of (re, im), in place; the length is a power of two. */
        internal fun fftInPlace(re: DoubleArray, im: DoubleArray) {
            val n = re.size
            var j = 0
            for (i in 1 until n) {
                var bit = n shr 1
                while (j and bit != 0) {
                    j = j xor bit
                    bit = bit shr 1
                }
                j = j or bit
                if (i < j) {
                    re[i] = re[j].also { re[j] = re[i] }
                    im[i] = im[j].also { im[j] = im[i] }
                }
            }
            var size = 2
            while (size <= n) {
                val step = -2 * PI / size
                for (start in 0 until n step size) {
                    for (k in 0 until size / 2) {
                        val wr = cos(step * k)
                        val wi = sin(step * k)
                        val a = start + k
                        val b = a + size / 2
                        val tr = re[b] * wr - im[b] * wi
                        val ti = re[b] * wi + im[b] * wr
                        re[b] = re[a] - tr
                        im[b] = im[a] - ti
                        re[a] += tr
                        im[a] += ti
                    }
                }
                size *= 2
            }
        }
    }
}

/**
 * Feature windows as audio arrives (Python's `mpkit.audio.features.Stream`): `push` chunks and
 * get every video frame whose audio is now complete; `finish` pads the end with silence.
 */
class AudioFeatureStream(private val spec: AudioFeatureSpec, private val fps: Double) {
    private var audio = FloatArray(0)
    private var offset = 0L // sample number of audio[0], always a multiple of hop
    private var next = 0

    fun push(chunk: FloatArray): List<Pair<Int, FloatArray>> {
        audio += chunk
        val out = mutableListOf<Pair<Int, FloatArray>>()
        while (spec.samplesNeeded(next, fps) <= offset + audio.size) out += emit(next++)
        val keep = (spec.newestFrame(next, fps) - spec.context + 1).toLong() * spec.hop
        val drop = (keep - offset).coerceIn(0L, audio.size.toLong()).toInt()
        audio = audio.copyOfRange(drop, audio.size)
        offset += drop
        return out
    }

    fun finish(name: String = "audio stream"): List<Pair<Int, FloatArray>> {
        val total = offset + audio.size
        spec.checkLength(total, fps, name)
        val out = mutableListOf<Pair<Int, FloatArray>>()
        while (next < spec.frameCount(total, fps)) out += emit(next++)
        return out
    }

    private fun emit(frame: Int): Pair<Int, FloatArray> {
        val first = spec.newestFrame(frame, fps) - spec.context + 1
        val mel = spec.melFrames(audio, first - (offset / spec.hop).toInt(), spec.context)
        return frame to FloatArray(spec.mels * spec.context) { i ->
            mel[(i % spec.context) * spec.mels + i / spec.context]
        }
    }
}
