package org.mpkit.core

import java.io.ByteArrayOutputStream
import java.nio.ByteBuffer
import java.util.zip.CRC32
import java.util.zip.DeflaterOutputStream

/** PNG encoding of an [RgbImage] (8-bit RGB, no filtering), with only java.util.zip. */
object Png {
    private val SIGNATURE = byteArrayOf(-119, 80, 78, 71, 13, 10, 26, 10)

    fun encode(image: RgbImage): ByteArray {
        val rows = ByteArrayOutputStream()
        DeflaterOutputStream(rows).use { z ->
            for (y in 0 until image.height) {
                z.write(0) // filter: none
                z.write(image.pixels, y * image.width * 3, image.width * 3)
            }
        }
        val header = ByteBuffer.allocate(13).putInt(image.width).putInt(image.height)
            .put(8).put(2).put(0).put(0).put(0).array() // 8-bit truecolour, no interlace
        val out = ByteArrayOutputStream()
        out.write(SIGNATURE)
        chunk(out, "IHDR", header)
        chunk(out, "IDAT", rows.toByteArray())
        chunk(out, "IEND", ByteArray(0))
        return out.toByteArray()
    }

    private fun chunk(out: ByteArrayOutputStream, type: String, data: ByteArray) {
        val name = type.toByteArray(Charsets.US_ASCII)
        val crc = CRC32().apply {
            update(name)
            update(data)
        }
        out.write(ByteBuffer.allocate(4).putInt(data.size).array())
        out.write(name)
        out.write(data)
        out.write(ByteBuffer.allocate(4).putInt(crc.value.toInt()).array())
    }
}
