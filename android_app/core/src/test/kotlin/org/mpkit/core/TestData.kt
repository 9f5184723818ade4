package org.mpkit.core

import java.io.ByteArrayInputStream
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import javax.imageio.ImageIO
import org.json.JSONObject

/** The shared fixtures in the repository's testdata/ (system property `mpkit.testdata`). */
object TestData {
    val root: Path by lazy {
        System.getProperty("mpkit.testdata")?.let { Paths.get(it) }
            ?: generateSequence(Paths.get("").toAbsolutePath()) { it.parent }
                .map { it.resolve("testdata") }
                .firstOrNull { Files.isRegularFile(it.resolve("README.md")) }
            ?: error("testdata/ not found: run with -Dmpkit.testdata=<repo>/testdata")
    }

    fun bytes(name: String): ByteArray = Files.readAllBytes(root.resolve(name))

    fun json(name: String) = JSONObject(String(bytes(name), Charsets.UTF_8))

    /** A PNG fixture as 8-bit RGB. */
    fun rgbImage(name: String): RgbImage {
        val decoded = ImageIO.read(ByteArrayInputStream(bytes(name)))
        val out = RgbImage(decoded.width, decoded.height)
        for (y in 0 until decoded.height) {
            for (x in 0 until decoded.width) {
                val rgb = decoded.getRGB(x, y)
                out[x, y, 0] = rgb shr 16 and 0xFF
                out[x, y, 1] = rgb shr 8 and 0xFF
                out[x, y, 2] = rgb and 0xFF
            }
        }
        return out
    }

    const val MANIFEST = "manifest/manifest_tflite_fp32.json"

    /**
     * The golden manifest with an audio-stage component (a copy of the first component's entry)
     * and, with `features`, the audio front end's settings of testdata/audio.
     */
    fun audioManifest(features: Boolean = true): JSONObject = json(MANIFEST).apply {
        val components = getJSONArray("components")
        components.put(
            JSONObject(components.getJSONObject(0).toString()).put("name", "audio")
                .put("file", "audio.tflite").put("stage", ModelBundle.AUDIO_STAGE)
        )
        if (features) put("audio_features", json("audio/cases.json").getJSONObject("spec"))
        put("audio_checkpoint_sha256", "ab".repeat(32))
    }

    /**
     * JSON as plain values with every number a Double: org.json writes 60.0 as 60, and both
     * sides read the two as the same number.
     */
    fun normalized(value: Any?): Any? = when (val v = plain(value)) {
        is Map<*, *> -> v.mapValues { normalized(it.value) }
        is List<*> -> v.map { normalized(it) }
        is Number -> v.toDouble()
        else -> v
    }
}
