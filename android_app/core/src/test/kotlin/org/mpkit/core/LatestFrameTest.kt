package org.mpkit.core

import kotlin.concurrent.thread
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertNull

class LatestFrameTest {
    @Test
    fun `a frame not taken is replaced and counted as dropped`() {
        val slot = LatestFrame<Int>()
        slot.offer(1)
        slot.offer(2)
        slot.offer(3)
        assertEquals(3, slot.take())
        assertEquals(2, slot.dropped)
        slot.offer(4)
        assertEquals(4, slot.take())
        assertEquals(2, slot.dropped)
    }

    @Test
    fun `take waits for a frame, and close wakes it with null`() {
        val slot = LatestFrame<String>()
        var got: String? = "unset"
        val consumer = thread { got = slot.take() }
        Thread.sleep(50)
        slot.offer("frame")
        consumer.join(5000)
        assertEquals("frame", got)
        val waiting = thread { got = slot.take() }
        slot.close()
        waiting.join(5000)
        assertNull(got)
        slot.offer("late") // after close: not kept
        assertNull(slot.take())
    }
}
