package org.mpkit.core

import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.io.TempDir

/** verify() on real bundle folders: the golden manifest's files, with real sizes and hashes. */
class ModelBundleTest {
    @TempDir
    lateinit var dir: Path

    private fun entries(m: JSONObject) = listOf("components", "helpers").flatMap { key ->
        val a = m.getJSONArray(key)
        List(a.length()) { a.getJSONObject(it) }
    }

    /** The pose bank shipped with the golden manifest's model, in the repository's models/. */
    private val modelBank: Path = TestData.root.resolve("../models/mp-tiny/pose_bank.json")

    /**
     * A bundle whose files hold their own names (the pose bank: the model's), listed with
     * their true size and sha256.
     */
    private fun bundle(edit: (JSONObject) -> Unit = {}): Path {
        val m = TestData.json(TestData.MANIFEST)
        for (e in entries(m)) {
            val file = dir.resolve(e.getString("file"))
            if (e.optString("role") == ModelBundle.POSE_BANK) {
                Files.copy(modelBank, file, StandardCopyOption.REPLACE_EXISTING)
            } else {
                Files.write(file, "contents of ${e.getString("name")}".toByteArray())
            }
            e.put("bytes", Files.size(file)).put("sha256", ModelBundle.sha256(file))
        }
        edit(m)
        Files.write(dir.resolve(ModelBundle.MANIFEST), m.toString(2).toByteArray())
        return dir
    }

    private fun refused(bundle: Path) =
        assertFailsWith<BundleException> { ModelBundle.verify(bundle) }.message!!

    @Test
    fun `a whole bundle verifies`() {
        assertEquals("mp-tiny", ModelBundle.verify(bundle()).modelId)
    }

    @Test
    fun `a bundle's pose bank is the model's`() {
        val b = bundle()
        val bank = ModelBundle.poseBank(b, ModelBundle.verify(b))
        val model = PoseBank.parse(JSONObject(String(Files.readAllBytes(modelBank))), 4)
        assertEquals(4, bank.views)
        for (t in 0 until 4) assertContentEquals(model.affines[t], bank.affines[t], "pose $t")
        assertEquals(listOf(1f, 0f, 0f, 0f, 1f, 0f), bank.affines[0].toList()) // the identity
        // The shared manifest lists exactly the model's bank, as an export writes it.
        val listed = TestData.json(TestData.MANIFEST).getJSONArray("helpers").let { h ->
            h.getJSONObject(h.length() - 1)
        }
        assertEquals(ModelBundle.sha256(modelBank), listed.getString("sha256"))
        assertEquals(Files.size(modelBank), listed.getLong("bytes"))
    }

    /** The model's bank with pose 1 moved: still a valid bank, but not the listed one. */
    private fun otherBank(views: Int = 4): ByteArray {
        val bank = JSONObject(String(Files.readAllBytes(modelBank)))
        val affines = bank.getJSONArray("affines")
        affines.getJSONArray(1).getJSONArray(0).put(2, 0.5)
        while (affines.length() > views) affines.remove(affines.length() - 1)
        return bank.put("views", views).toString().toByteArray()
    }

    @Test
    fun `a pose bank with a wrong hash is refused naming the file`() {
        val b = bundle()
        val manifest = ModelBundle.verify(b)
        Files.write(b.resolve("pose_bank.json"), otherBank())
        val message = "pose_bank.json does not match its sha256 in manifest.json"
        assertContains(refused(b), message)
        val direct = assertFailsWith<BundleException> { ModelBundle.poseBank(b, manifest) }
        assertContains(direct.message!!, message)
    }

    @Test
    fun `a listed pose bank for another view count is refused`() {
        val data = otherBank(views = 3)
        val b = bundle { m ->
            val h = m.getJSONArray("helpers")
            h.getJSONObject(h.length() - 1).put("bytes", data.size)
                .put("sha256", ModelBundle.sha256(data))
        }
        Files.write(b.resolve("pose_bank.json"), data)
        assertContains(refused(b), "pose_bank.json has 3 poses, the model has 4 views")
    }

    @Test
    fun `a pose bank that is not JSON or is oversized is refused naming the file`() {
        val data = "{\"format\": ".toByteArray()
        val b = bundle { m ->
            val h = m.getJSONArray("helpers")
            h.getJSONObject(h.length() - 1).put("bytes", data.size)
                .put("sha256", ModelBundle.sha256(data))
        }
        Files.write(b.resolve("pose_bank.json"), data)
        assertContains(refused(b), "pose_bank.json: not valid JSON")
        val big = ByteArray(ModelBundle.MAX_POSE_BANK_BYTES + 1) { 32 }
        val listed = bundle { m ->
            val h = m.getJSONArray("helpers")
            h.getJSONObject(h.length() - 1).put("bytes", big.size)
                .put("sha256", ModelBundle.sha256(big))
        }
        Files.write(listed.resolve("pose_bank.json"), big)
        assertContains(refused(listed), "pose_bank.json: 65537 bytes, over the 65536 byte limit")
    }

    @Test
    fun `sha256 is the real digest`() {
        val file = dir.resolve("abc")
        Files.write(file, "abc".toByteArray())
        assertEquals(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ModelBundle.sha256(file)
        )
        assertEquals(ModelBundle.sha256(file), ModelBundle.sha256("abc".toByteArray()))
    }

    @Test
    fun `a changed file fails its hash`() {
        val b = bundle()
        Files.write(b.resolve("synthesis.tflite"), "contents of synthesiz".toByteArray())
        assertContains(refused(b), "synthesis.tflite does not match its sha256 in manifest.json")
    }

    @Test
    fun `a file of another size fails`() {
        val b = bundle()
        Files.write(b.resolve("obama.jpg"), "longer contents of sample_source".toByteArray())
        assertContains(refused(b), "obama.jpg does not match its sha256")
    }

    @Test
    fun `a missing file is named`() {
        val b = bundle()
        Files.delete(b.resolve("face_landmark.tflite"))
        assertContains(refused(b), "face_landmark.tflite is missing")
    }

    @Test
    fun `a symlinked file is refused, not followed`() {
        val b = bundle()
        val outside = Files.createTempFile("outside", ".tflite")
        Files.write(outside, Files.readAllBytes(b.resolve("keypoints.tflite")))
        Files.delete(b.resolve("keypoints.tflite"))
        Files.createSymbolicLink(b.resolve("keypoints.tflite"), outside)
        assertContains(refused(b), "keypoints.tflite is a symlink")
        Files.delete(outside)
    }

    @Test
    fun `a folder where a file should be is refused`() {
        val b = bundle()
        Files.delete(b.resolve("multiview.tflite"))
        Files.createDirectory(b.resolve("multiview.tflite"))
        assertContains(refused(b), "multiview.tflite is not a regular file")
    }

    @Test
    fun `a file listed twice is refused`() {
        val b = bundle { m ->
            m.getJSONArray("helpers").getJSONObject(2).put("file", "obama.jpg")
        }
        assertContains(refused(b), "obama.jpg is listed twice in manifest.json")
    }

    @Test
    fun `not a bundle`() {
        assertContains(refused(dir), "no manifest.json (not a bundle)")
        assertContains(refused(dir.resolve("nothing")), "is not a folder (not a bundle)")
        Files.createSymbolicLink(
            dir.resolve(ModelBundle.MANIFEST),
            TestData.root.resolve(TestData.MANIFEST)
        )
        assertContains(refused(dir), "manifest.json is a symlink")
    }

    @Test
    fun `a huge manifest is refused before it is read`() {
        Files.write(
            dir.resolve(ModelBundle.MANIFEST),
            ByteArray(ModelBundle.MAX_MANIFEST_BYTES + 1) {
                32
            }
        )
        assertContains(refused(dir), "1048577 bytes, over the 1048576 byte limit")
    }

    @Test
    fun `a verified bundle runs only with a delegate it was validated for`() {
        val m = ModelBundle.verify(
            bundle { it.put("delegates", JSONArray(listOf("cpu"))) }
        )
        assertEquals("cpu", m.delegate("cpu"))
        val message = assertFailsWith<BundleException> { m.delegate("gpu") }.message!!
        assertContains(message, "not validated for delegate 'gpu'")
        assertContains(message, "it is validated for: cpu")
    }
}
