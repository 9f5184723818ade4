package org.mpkit.core

import kotlin.test.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

/** Camera frames made upright: each turn against a hand-drawn 3×2 image, and their algebra. */
class UprightTest {
    // 3 wide, 2 high; pixel value = its label (red channel), labels a..f row by row
    private val image = RgbImage(3, 2).apply {
        "abcdef".forEachIndexed { i, c ->
            pixels[3 * i] =
                c.code.toByte()
        }
    }

    private fun labels(img: RgbImage) = String(
        CharArray(img.width * img.height) {
            img.pixels[3 * it].toInt().toChar()
        }
    )

    @Test
    fun `each turn moves the pixels clockwise`() {
        // a b c          d a        f e d        c f
        // d e f   90 ->  e b  180-> c b a  270-> b e
        //                f c                     a d
        assertEquals("abcdef", labels(image.upright(0, false)))
        assertEquals("daebfc", labels(image.upright(90, false)))
        assertEquals("fedcba", labels(image.upright(180, false)))
        assertEquals("cfbead", labels(image.upright(270, false)))
        assertEquals(listOf(2, 3), image.upright(90, false).let { listOf(it.width, it.height) })
    }

    @Test
    fun `mirroring comes after the turn`() {
        assertEquals("cbafed", labels(image.upright(0, true)))
        assertEquals("adbecf", labels(image.upright(90, true)))
        val once = image.upright(270, true) // a mirrored turn undoes itself
        assertContentEquals(image.pixels, once.upright(270, true).pixels)
    }

    @Test
    fun `other angles are refused`() {
        assertFailsWith<IllegalArgumentException> { image.upright(45, false) }
    }
}
