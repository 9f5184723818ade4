package org.mpkit.core

import java.io.File
import java.nio.file.Path
import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import org.json.JSONObject
import org.junit.jupiter.api.io.TempDir

class BenchResultTest {
    @TempDir
    lateinit var dir: Path

    private fun parse(name: String) = BenchResult.parse(TestData.bytes("protocol/$name"), name)

    private fun refused(obj: JSONObject) = refused(obj.toString().toByteArray())

    private fun refused(data: ByteArray) =
        assertFailsWith<ProtocolException> { BenchResult.parse(data, "dev:r.json") }.message!!

    @Test
    fun `the golden ok result parses with its timings`() {
        val r = parse("result_ok.json")
        assertEquals(RunStatus.OK, r.status)
        assertEquals(listOf("litert", "gpu", "video"), listOf(r.runtime, r.delegate, r.driving))
        val times = r.times!!
        assertEquals(listOf(14.2, 15.1, 13.9, 16.4), times.frameMs)
        assertEquals(
            listOf("keypoints", "dense_motion", "synthesis", "face_mesh"),
            times.componentMs.keys.toList()
        )
        assertEquals(listOf(6.9, 7.4, 6.8, 8.1), times.componentMs["synthesis"])
        assertEquals(SustainedPoint(1.0, 64.2, 38.5), r.sustained.single())
        assertEquals(
            listOf("golden-run-1/frame_0000.png", "golden-run-1/frame_0001.png"),
            r.capturedFrames
        )
        assertEquals(182.3, r.pssMb)
    }

    @Test
    fun `the golden error result keeps the error and no times`() {
        val r = parse("result_error.json")
        assertEquals(RunStatus.ERROR, r.status)
        assertEquals("IllegalStateException: GPU delegate rejected op GATHER_ND", r.error)
        assertNull(r.times)
        assertNull(r.pssMb)
    }

    @Test
    fun `toJson writes back exactly the golden results`() {
        for (name in listOf("result_ok.json", "result_error.json")) {
            val r = parse(name)
            assertEquals(
                TestData.normalized(TestData.json("protocol/$name")),
                TestData.normalized(r.toJson()),
                name
            )
            assertEquals(r, BenchResult.parse(r.toJson().toString().toByteArray(), name))
        }
    }

    @Test
    fun `write puts the result at files-bench-run_id json atomically`() {
        val r = parse("result_ok.json")
        val results = File(dir.toFile(), "files/bench")
        val file = r.write(results)
        assertEquals(File(results, "golden-run-1.json"), file)
        assertEquals(r, BenchResult.parse(file.readBytes(), file.path))
        assertEquals(listOf("golden-run-1.json"), results.list()!!.toList())
    }

    @Test
    fun `optional fields take Python's defaults and required ones are required`() {
        for (key in BenchResult.KEYS - "protocol_version") {
            val obj = TestData.json("protocol/result_ok.json").apply { remove(key) }
            if (key in BenchResult.OPTIONAL_KEYS) {
                BenchResult.parse(obj.toString().toByteArray(), key)
            } else {
                assertContains(refused(obj), "$key: field required")
            }
        }
    }

    @Test
    fun `another protocol version is refused first`() {
        val ok = TestData.json("protocol/result_ok.json")
        assertContains(
            refused(JSONObject(ok.toString()).put("protocol_version", 1)),
            "result protocol version 1; this app reads version 2"
        )
        assertContains(
            refused(JSONObject("{\"status\": \"ok\"}")),
            "result protocol version (none)"
        )
    }

    @Test
    fun `schema errors name the field`() {
        val ok = { TestData.json("protocol/result_ok.json") }
        assertContains(refused(ok().put("status", "maybe")), "status: 'maybe' is not ok or error")
        assertContains(refused(ok().put("surprise", 1)), "surprise: unknown field")
        assertContains(
            refused(
                ok().apply {
                    getJSONObject("times").put("frame_ms", "fast")
                }
            ),
            "times.frame_ms: expected an array"
        )
        assertContains(
            refused(
                ok().apply {
                    getJSONObject(
                        "times"
                    ).getJSONObject(
                        "component_ms"
                    ).put("synthesis", org.json.JSONArray("[1, true]"))
                }
            ),
            "times.component_ms.synthesis.1: expected a number, got a boolean"
        )
        assertContains(refused(ok().put("threads", 2.5)), "threads: expected an integer")
    }

    @Test
    fun `malformed bytes are one clear error`() {
        assertContains(refused("[1, 2, 3]".toByteArray()), "a JSON array, not an object")
        assertContains(
            refused(("[".repeat(100_000) + "]".repeat(100_000)).toByteArray()),
            "nested more than 64 levels deep"
        )
        assertContains(refused(byteArrayOf(0x7b, 0x22, 0xff.toByte(), 0xfe.toByte())), "not UTF-8")
        assertContains(refused("{not json".toByteArray()), "not valid JSON")
        assertContains(
            refused(
                ByteArray(Protocol.MAX_RESULT_BYTES + 1) {
                    32
                }
            ),
            "over the 16777216 byte limit"
        )
    }
}
