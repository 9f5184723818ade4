package org.mpkit.core

import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.Test
import kotlin.test.assertContains
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

    /** A bundle whose files hold their own names, listed with their true size and sha256. */
    private fun bundle(edit: (JSONObject) -> Unit = {}): Path {
        val m = TestData.json(TestData.MANIFEST)
        for (e in entries(m)) {
            val file = dir.resolve(e.getString("file"))
            Files.write(file, "contents of ${e.getString("name")}".toByteArray())
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
    fun `sha256 is the real digest`() {
        val file = dir.resolve("abc")
        Files.write(file, "abc".toByteArray())
        assertEquals(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ModelBundle.sha256(file)
        )
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
