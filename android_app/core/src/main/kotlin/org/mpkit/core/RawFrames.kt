package org.mpkit.core

import java.nio.file.Files
import java.nio.file.Path

/**
 * Frames the virtual device hands the core on the host JVM (the phone decodes its own with
 * MediaCodec): raw RGB, `width`×`height` per frame, back to back.
 */
object RawFrames {
    fun read(path: Path, width: Int, height: Int): List<RgbImage> {
        val size = width * height * 3
        require(width > 0 && height > 0) { "$path: frames need a positive size" }
        val raw = Files.readAllBytes(path)
        require(raw.isNotEmpty() && raw.size % size == 0) {
            "$path: ${raw.size} bytes is not whole ${width}x$height RGB frames"
        }
        return (0 until raw.size step size).map {
            RgbImage(width, height, raw.copyOfRange(it, it + size))
        }
    }

    fun write(path: Path, frames: List<RgbImage>) {
        Files.newOutputStream(path).use { out -> frames.forEach { out.write(it.pixels) } }
    }
}
