package org.mpkit.core

import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertNull

class FrameStatsTest {
    @Test
    fun `every golden case matches mpkit's stats summarize`() {
        val cases = TestData.json("stats/frame_stats.json").getJSONArray("cases")
        for (i in 0 until cases.length()) {
            val case = cases.getJSONObject(i)
            val name = case.getString("name")
            val frames = plain(case.getJSONArray("frame_ms")) as List<*>
            val stats = FrameStats.of(frames.map { (it as Number).toDouble() })!!.toMap()
            val want = plain(case.getJSONObject("summary")) as Map<*, *>
            assertEquals(want.keys, stats.keys, name)
            for ((key, value) in stats) {
                val expected = want[key] as Number
                if (value is Int) {
                    assertEquals(expected.toInt(), value, "$name $key")
                } else {
                    // Percentiles use numpy's arithmetic exactly; the mean may differ in the last bit.
                    val tolerance = if (key.startsWith("p")) 0.0 else 1e-12 * expected.toDouble()
                    assertEquals(expected.toDouble(), value.toDouble(), tolerance, "$name $key")
                }
            }
        }
    }

    @Test
    fun `a frame exactly on a budget is not over it`() {
        val s = FrameStats.of(listOf(1000.0 / 30, 1000.0 / 60, 33.34, 16.67))!!
        assertEquals(1, s.overBudget30)
        assertEquals(3, s.overBudget60)
    }

    @Test
    fun `no frames, no statistics`() {
        assertNull(FrameStats.of(emptyList()))
    }
}
