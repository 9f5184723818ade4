package org.mpkit.core

import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.ValueSource

class ManifestTest {
    private fun golden() = TestData.json(TestData.MANIFEST)

    private fun parse(obj: JSONObject) = Manifest.parse(obj.toString().toByteArray(), "m.json")

    private fun refused(obj: JSONObject): String =
        assertFailsWith<BundleException> { parse(obj) }.message!!

    private fun refusedBytes(data: ByteArray): String =
        assertFailsWith<BundleException> { Manifest.parse(data, "m.json") }.message!!

    @Test
    fun `the golden manifest parses with every field`() {
        val m = Manifest.parse(TestData.bytes(TestData.MANIFEST), TestData.MANIFEST)
        assertEquals(Triple("mp-tiny", "tflite", "litert"), Triple(m.modelId, m.backend, m.runtime))
        assertEquals(
            listOf("keypoints", "dense_motion", "synthesis", "multiview"),
            m.components.map {
                it.name
            }
        )
        val kp = m.component("keypoints")
        assertEquals(listOf(1, 3, 256, 256), kp.inputs[0].shape)
        assertEquals(1523524L, kp.bytes)
        assertEquals(129.57, kp.validation.getValue("cpu")["kp_sqnr_db"])
        assertEquals(listOf("cpu", "gpu_fp16", "gpu_fp32"), kp.validation.keys.toList())
        assertEquals(listOf("cpu", "gpu"), m.delegates)
        assertEquals("source", m.component("multiview").stage)
        assertEquals("face_landmark.tflite", m.helper("face_mesh")!!.file)
        assertNull(m.checkpointSha256)
        assertNull(m.audioFeatures)
        assertEquals(1.3873, m.frameGmacs)
        val e2e = m.validation["end_to_end"] as Map<*, *>
        assertEquals(96.3, (e2e["cpu"] as Map<*, *>)["psnr_db_min"])
        assertEquals(10, m.files.size)
        assertEquals("pose_bank.json", m.helper(ModelBundle.POSE_BANK)!!.file)
        assertEquals("json", m.helper(ModelBundle.POSE_BANK)!!.runtime)
        assertEquals(4, m.views)
    }

    @Test
    fun `toJson writes back exactly the golden manifest`() {
        val m = parse(golden())
        assertEquals(TestData.normalized(golden()), TestData.normalized(m.toJson()))
        assertEquals(m, parse(m.toJson()))
    }

    @Test
    fun `schema defaults are filled in as Python fills them`() {
        val obj = golden()
        val kp = obj.getJSONArray("components").getJSONObject(0)
        kp.remove("layout")
        kp.remove("validation")
        obj.getJSONArray("helpers").getJSONObject(0).remove("runtime")
        val m = parse(obj)
        assertEquals(ComponentEntry.DEFAULT_LAYOUT, m.component("keypoints").layout)
        assertEquals(emptyMap(), m.component("keypoints").validation)
        assertEquals("litert", m.helpers[0].runtime)
    }

    @ParameterizedTest
    @ValueSource(strings = ["5", "\"4\"", "4.5", "null"])
    fun `an unknown schema version is refused`(version: String) {
        val obj = golden().put("schema_version", JSONObject("{\"v\": $version}").get("v"))
        assertContains(refused(obj), "schema version")
        assertContains(refused(obj), "is not 4; use an app that matches the mpkit that wrote it")
    }

    @Test
    fun `a schema 1 manifest is refused with the fix`() {
        val message = refused(golden().put("schema_version", 1))
        assertContains(message, "schema version 1 is not 4; it predates per-delegate validation")
        assertContains(message, ": re-export the bundle with this mpkit (`mpkit export`)")
    }

    @Test
    fun `a schema 2 manifest, without the pose bank, is refused with the fix`() {
        val message = refused(golden().put("schema_version", 2))
        assertContains(message, "schema version 2 is not 4; it predates the pose bank in the")
        assertContains(message, ": re-export the bundle with this mpkit (`mpkit export`)")
    }

    @Test
    fun `a schema 3 manifest, without audio_features, is refused with the fix`() {
        val message = refused(golden().put("schema_version", 3))
        assertContains(message, "schema version 3 is not 4; it predates audio components")
        assertContains(message, ": re-export the bundle with this mpkit (`mpkit export`)")
    }

    @Test
    fun `a missing schema version is refused`() {
        val obj = golden().apply { remove("schema_version") }
        assertContains(refused(obj), "schema version (none) is not 4")
    }

    /** The manifest an export writes on a host without the GPU driver: gpu not claimed. */
    private fun cpuOnly() = golden().apply {
        put("delegates", JSONArray(listOf("cpu")))
        getJSONObject("validation").getJSONObject("delegates").getJSONObject("gpu")
            .put("claimed", false).put("why", "not validated: the GPU driver is not set up")
    }

    @Test
    fun `a validated delegate is accepted and null is the bundle's default`() {
        val m = parse(golden())
        assertEquals("gpu", m.delegate("gpu"))
        assertEquals("cpu", m.delegate(null))
        assertEquals("cpu", parse(cpuOnly()).delegate())
    }

    @Test
    fun `a delegate the bundle was not validated for is refused naming the list and why`() {
        val m = parse(cpuOnly())
        val message = assertFailsWith<BundleException> { m.delegate("gpu") }.message!!
        assertContains(
            message,
            "this mp-tiny tflite bundle is not validated for delegate 'gpu' (not validated: the " +
                "GPU driver is not set up); it is validated for: cpu: run it with one of those"
        )
    }

    @ParameterizedTest
    @ValueSource(strings = ["nnapi", "vulkan", "tpu", ""])
    fun `an unknown or unvalidated delegate is refused naming the list`(delegate: String) {
        val message = assertFailsWith<BundleException> { parse(golden()).delegate(delegate) }
        assertContains(message.message!!, "not validated for delegate '$delegate'")
        assertContains(message.message!!, "it is validated for: cpu, gpu")
    }

    @Test
    fun `claimed delegates are checked against the backend, once each, at least one`() {
        val vulkan = golden().put("delegates", JSONArray(listOf("cpu", "vulkan")))
        assertContains(refused(vulkan), "a tflite bundle cannot claim 'vulkan'; its backend runs")
        for (list in listOf(listOf(), listOf("cpu", "cpu"))) {
            assertContains(
                refused(golden().put("delegates", JSONArray(list))),
                "a bundle names each delegate it claims once, and at least one"
            )
        }
        assertContains(
            refused(golden().apply { remove("delegates") }),
            "delegates: field required"
        )
    }

    @ParameterizedTest
    @ValueSource(strings = ["keypoints", "dense_motion", "synthesis", "multiview"])
    fun `a missing component is refused by name`(name: String) {
        val obj = golden()
        val kept = JSONArray()
        val all = obj.getJSONArray("components")
        for (i in 0 until all.length()) {
            if (all.getJSONObject(i).getString("name") != name) kept.put(all.get(i))
        }
        assertContains(refused(obj.put("components", kept)), "no '$name' component")
    }

    @Test
    fun `a component in the wrong stage is refused`() {
        val obj = golden()
        obj.getJSONArray("components").getJSONObject(3).put("stage", "frame")
        assertContains(refused(obj), "component 'multiview' is in stage 'frame', not 'source'")
    }

    @Test
    fun `an audio component comes with the front end's settings, and only with one`() {
        val m = parse(TestData.audioManifest())
        val features = m.audioFeatures!!
        assertEquals(
            Triple(16000, 80, 24),
            Triple(features.sampleRate, features.mels, features.context)
        )
        assertEquals(TestData.normalized(TestData.audioManifest()), TestData.normalized(m.toJson()))
        assertContains(
            refused(TestData.audioManifest(features = false)),
            "component 'audio' is in stage 'audio' but audio_features is null"
        )
        val orphan = golden().put(
            "audio_features",
            TestData.json("audio/cases.json").getJSONObject("spec")
        )
        assertContains(
            refused(orphan),
            "audio_features is set but no component is in stage 'audio'"
        )
        val bad = TestData.audioManifest().apply { getJSONObject("audio_features").put("fft", 300) }
        assertContains(refused(bad), "fft 300 must be a power of two")
    }

    @Test
    fun `a missing face helper is refused`() {
        val obj = golden()
        obj.getJSONArray("helpers").remove(1)
        assertContains(refused(obj), "no 'face_mesh' helper")
    }

    @Test
    fun `a manifest without the pose bank helper is refused`() {
        val obj = golden()
        val helpers = obj.getJSONArray("helpers")
        helpers.remove(helpers.length() - 1)
        assertContains(refused(obj), "no 'pose_bank' helper; the app needs")
        assertContains(refused(obj), "re-export the bundle")
    }

    @Test
    fun `a multiview without its views axis is refused`() {
        val obj = golden()
        val inputs = obj.getJSONArray("components").getJSONObject(3).getJSONArray("inputs")
        inputs.getJSONObject(2).put("name", "warps")
        assertContains(refused(obj), "component 'multiview' has no 'deformations' input")
    }

    @ParameterizedTest
    @ValueSource(strings = ["onnx", "executorch", "TFLITE", ""])
    fun `an unknown backend is refused`(backend: String) {
        assertContains(refused(golden().put("backend", backend)), "unknown backend '$backend'")
    }

    @Test
    fun `a runtime that is not the backend's is refused`() {
        assertContains(refused(golden().put("runtime", "executorch")), "runs on the litert runtime")
    }

    @ParameterizedTest
    @ValueSource(
        strings = [
            "../keypoints.tflite", "/etc/hostname", "a/b.tflite", "a\\b.tflite", "..", ".",
            "", "manifest.json", "\\server\\x", "k\u0000.tflite", "k\n.tflite"
        ]
    )
    fun `path-like file names are refused`(name: String) {
        val obj = golden()
        obj.getJSONArray("components").getJSONObject(1).put("file", name)
        val message = refused(obj)
        assertContains(message, "components.1.file:")
        assertContains(message, "is not a plain file name in the bundle")
    }

    @Test
    fun `a helper file name is confined too`() {
        val obj = golden()
        obj.getJSONArray("helpers").getJSONObject(4).put("file", "../../carphone.mp4")
        assertContains(
            refused(obj),
            "helpers.4.file: '../../carphone.mp4' is not a plain file name"
        )
    }

    @Test
    fun `a 256-byte name is refused and a 255-byte one accepted`() {
        assertEquals("it is longer than 255 bytes", ModelBundle.nameProblem("é".repeat(128)))
        assertNull(ModelBundle.nameProblem("a".repeat(255)))
        assertNull(ModelBundle.nameProblem("keypoints v2.tflite"))
    }

    @Test
    fun `fields outside the schema and wrong types are refused with their path`() {
        assertContains(refused(golden().put("extra", 1)), "extra: unknown field")
        val obj = golden()
        obj.getJSONArray("components").getJSONObject(0).getJSONArray("inputs")
            .getJSONObject(0).put("shape", JSONArray("[1, \"3\"]"))
        assertContains(
            refused(obj),
            "components.0.inputs.0.shape.1: expected an integer, got a string"
        )
        assertContains(refused(golden().put("trained", "no")), "trained: expected true or false")
        assertContains(refused(golden().apply { remove("model_id") }), "model_id: field required")
        assertContains(
            refused(golden().put("frame_gmacs", JSONObject.NULL)),
            "frame_gmacs: expected a number"
        )
    }

    @Test
    fun `malformed bytes are one clear error`() {
        assertContains(refusedBytes("[1, 2]".toByteArray()), "a JSON array, not an object")
        assertContains(refusedBytes("{not json".toByteArray()), "not valid JSON")
        assertContains(refusedBytes("{} {}".toByteArray()), "not valid JSON")
        assertContains(
            refusedBytes(byteArrayOf(0x7b, 0x22, 0xff.toByte(), 0x22)),
            "not UTF-8 text (byte 2)"
        )
        assertContains(
            refusedBytes(
                ByteArray(ModelBundle.MAX_MANIFEST_BYTES + 1) {
                    32
                }
            ),
            "over the 1048576 byte limit"
        )
        val deep = "[".repeat(100_000) + "]".repeat(100_000)
        assertContains(refusedBytes(deep.toByteArray()), "nested more than 32 levels deep")
    }

    @Test
    fun `nesting is counted as the Python side counts it`() {
        fun nested(levels: Int) = "{\"a\": ".repeat(levels) + "1" + "}".repeat(levels)
        assertEquals(32, jsonDepth(JSONObject(nested(32))))
        assertEquals(1, jsonDepth(JSONObject("{\"a\": {}}")))
        val tooDeep = golden().put("validation", JSONObject(nested(32))).toString()
        assertContains(refusedBytes(tooDeep.toByteArray()), "nested more than 32 levels deep")
        val deepest = golden().put("validation", JSONObject(nested(31))).toString()
        assertEquals(32, jsonDepth(Manifest.parse(deepest.toByteArray(), "m").toJson()))
    }
}
