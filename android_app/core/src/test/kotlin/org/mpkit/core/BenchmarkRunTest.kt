package org.mpkit.core

import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.Test
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import org.junit.jupiter.api.io.TempDir

/** The activity's side of a run that cannot start: a bundle_dir outside the roots, a bad request. */
class BenchmarkRunTest {
    @TempDir
    lateinit var tmp: Path

    private val root by lazy { File(tmp.toFile(), "mpkit").apply { mkdirs() } }
    private val results by lazy { File(tmp.toFile(), "results") }
    private val resolve by lazy { BenchmarkRun.confinedTo(listOf(root)) }

    /** A device the run never reaches: every case here ends before the bundle is opened. */
    private val device = object : BenchDevice {
        override val measuredOn = "test"

        override fun open(bundle: File, manifest: Manifest, delegate: String?, threads: Int) =
            throw AssertionError("opened $bundle")

        override fun decode(bundle: File, helper: HelperEntry) =
            throw AssertionError("decoded ${helper.role}")

        override fun temperatureC(): Double? = null

        override fun pssMb(): Double? = null
    }

    private fun refusal(path: String) =
        assertFailsWith<ProtocolException> { resolve(path) }.message!!

    @Test
    fun `a folder inside the roots resolves to itself`() {
        val bundle = File(root, "bundles/b1").apply { mkdirs() }
        assertEquals(bundle.canonicalFile, resolve(bundle.path))
    }

    @Test
    fun `outside the roots, dot-dot, a symlink out and a relative path are refused`() {
        val outside = File(tmp.toFile(), "elsewhere").apply { mkdirs() }
        val link = File(root, "link")
        Files.createSymbolicLink(link.toPath(), outside.toPath())
        for (path in listOf(outside.path, "${root.path}/../elsewhere", link.path, "mpkit/b1")) {
            assertContains(refusal(path), "is not inside")
        }
        assertContains(refusal("${root.path}-evil/b"), "mpkit deploy")
    }

    @Test
    fun `a refused bundle_dir is the run's error result, written where the harness reads it`() {
        val extras = mapOf("run_id" to "r1", "bundle_dir" to "/etc")
        val result = BenchmarkRun.fromExtras(extras, results, device, resolve)
        assertEquals(RunStatus.ERROR, result.status)
        val written = BenchResult.parse(File(results, "r1.json").readBytes(), "r1.json")
        assertContains(written.error!!, "extra bundle_dir: '/etc' is not inside")
        assertEquals("test", written.measuredOn)
    }

    @Test
    fun `a bad request with a readable run_id is an error result, without one it is thrown`() {
        val bad = mapOf("run_id" to "r2", "bundle_dir" to root.path, "frames" to 0)
        assertContains(BenchmarkRun.fromExtras(bad, results, device, resolve).error!!, "frames")
        assertContains(File(results, "r2.json").readText(), "below the minimum")
        assertFailsWith<ProtocolException> {
            BenchmarkRun.fromExtras(mapOf("run_id" to "../x"), results, device, resolve)
        }
        assertEquals(listOf("r2.json"), results.list()!!.sorted())
    }

    @Test
    fun `a bundle_dir the file system cannot resolve is an error result too`() {
        val extras = mapOf("run_id" to "r4", "bundle_dir" to "${root.path}/bad\u0000name")
        val result = BenchmarkRun.fromExtras(extras, results, device, resolve)
        assertEquals(RunStatus.ERROR, result.status)
        assertEquals(
            RunStatus.ERROR,
            BenchResult.parse(File(results, "r4.json").readBytes(), "r4").status
        )
    }

    @Test
    fun `a bundle folder without a manifest is an error result naming the folder`() {
        val bundle = File(root, "empty").apply { mkdirs() }
        val extras = mapOf("run_id" to "r3", "bundle_dir" to bundle.path)
        val error = BenchmarkRun.fromExtras(extras, results, device, resolve).error!!
        assertContains(error, "manifest.json")
    }
}
