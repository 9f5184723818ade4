package org.mpkit.core

import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.CsvSource

class BenchRequestTest {
    /** The golden request as `am start` delivers it: --es strings, --ei Integers, --ef Float. */
    private fun golden(): MutableMap<String, Any?> {
        val obj = TestData.json("protocol/request.json")
        return obj.keys().asSequence().associateWith { key ->
            when (val v = obj.get(key)) {
                is Double -> v.toFloat()
                else -> v
            }
        }.toMutableMap()
    }

    private fun refused(extras: Map<String, Any?>) =
        assertFailsWith<ProtocolException> { BenchRequest.fromExtras(extras) }.message!!

    @Test
    fun `the golden request parses`() {
        val r = BenchRequest.fromExtras(golden())
        assertEquals("golden-run-1", r.runId)
        assertEquals("/data/local/tmp/mpkit/bundles/5237c6ca217c79e1", r.bundleDir)
        assertEquals(listOf("gpu", "video"), listOf(r.delegate, r.driving))
        assertEquals(listOf(60, 5, 2, 2), listOf(r.frames, r.warmup, r.threads, r.captureFrames))
        assertEquals(0.0, r.sustainedMin)
    }

    @Test
    fun `toExtras round-trips and names exactly the golden extras`() {
        val r = BenchRequest.fromExtras(golden())
        assertEquals(r, BenchRequest.fromExtras(r.toExtras()))
        assertEquals(golden().keys, r.toExtras().keys)
        assertEquals(plain(TestData.json("protocol/request.json")), r.toExtras())
    }

    @Test
    fun `defaults are the protocol's`() {
        val r = BenchRequest.fromExtras(mapOf("run_id" to "r1", "bundle_dir" to "/b"))
        assertEquals(BenchRequest("r1", "/b", "cpu", 60, 5, 2, "video", 0.0, 0), r)
    }

    @Test
    fun `a Long, a Double and an integral sustained_min are accepted`() {
        val r = BenchRequest.fromExtras(golden() + mapOf("frames" to 90L, "sustained_min" to 2))
        assertEquals(90, r.frames)
        assertEquals(2.0, r.sustainedMin)
        assertEquals(0.5, BenchRequest.fromExtras(golden() + ("sustained_min" to 0.5)).sustainedMin)
    }

    @Test
    fun `a missing required extra names the am flag`() {
        assertContains(
            refused(golden() - "run_id"),
            "extra run_id: missing (pass it with am start --es run_id VALUE)"
        )
        assertContains(refused(golden() - "bundle_dir"), "extra bundle_dir: missing")
        assertContains(refused(golden() + ("run_id" to null)), "extra run_id: missing")
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(
        "frames, 0, 0 is below the minimum 1",
        "frames, -5, -5 is below the minimum 1",
        "warmup, -1, -1 is below the minimum 0",
        "threads, 0, 0 is below the minimum 1",
        "capture_frames, -1, -1 is below the minimum 0"
    )
    fun `out-of-range integers are refused`(name: String, value: Int, why: String) {
        assertContains(refused(golden() + (name to value)), "extra $name: $why")
    }

    @Test
    fun `out-of-range and non-finite floats are refused`() {
        assertContains(
            refused(golden() + ("sustained_min" to -0.5f)),
            "extra sustained_min: -0.5 is below the minimum 0"
        )
        assertContains(
            refused(golden() + ("sustained_min" to Float.NaN)),
            "expected a finite number (--ef)"
        )
        assertContains(
            refused(golden() + ("sustained_min" to Double.POSITIVE_INFINITY)),
            "expected a finite number"
        )
    }

    @Test
    fun `wrong types are refused`() {
        assertContains(
            refused(golden() + ("frames" to "60")),
            "extra frames: expected an integer (--ei), got String 60"
        )
        assertContains(refused(golden() + ("frames" to 60.0f)), "extra frames: expected an integer")
        assertContains(
            refused(golden() + ("frames" to (1L shl 40))),
            "extra frames: expected an integer"
        )
        assertContains(
            refused(golden() + ("run_id" to 7)),
            "extra run_id: expected a string (--es)"
        )
        assertContains(
            refused(golden() + ("sustained_min" to "1")),
            "extra sustained_min: expected a finite number"
        )
    }

    @Test
    fun `run ids that are not plain names are refused`() {
        for (id in listOf("", "a/b", "../x", "run 1", "r\n", "r;rm")) {
            assertContains(
                refused(golden() + ("run_id" to id)),
                "extra run_id: '$id' does not match"
            )
        }
        assertEquals("a.b_c-9", BenchRequest.fromExtras(golden() + ("run_id" to "a.b_c-9")).runId)
    }

    @Test
    fun `unknown delegates, driving modes and extras are refused`() {
        assertContains(
            refused(golden() + ("delegate" to "npu")),
            "extra delegate: 'npu' is not one of cpu, xnnpack, gpu, nnapi, vulkan, qnn"
        )
        assertContains(
            refused(golden() + ("driving" to "camera")),
            "extra driving: 'camera' is not one of synthetic, video, audio"
        )
        assertContains(
            refused(golden() + ("frame" to 60)),
            "unknown extra frame; the benchmark takes run_id, bundle_dir"
        )
    }
}
