package org.mpkit.bench

import android.Manifest
import android.app.Activity
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.os.Bundle
import android.widget.Button
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.TextView
import java.io.File
import java.util.Locale
import kotlin.concurrent.thread
import org.mpkit.core.LatestFrame
import org.mpkit.core.LiveSession
import org.mpkit.core.MpkitException
import org.mpkit.core.RgbImage

/**
 * The main screen: the newest deployed bundle's avatar (its sample photo), driven live by the
 * front camera, with its frame rate, the camera frames it dropped and the frames without a face.
 */
class MainActivity : Activity() {
    private lateinit var status: TextView
    private lateinit var output: ImageView
    private val frames = LatestFrame<RgbImage>()
    private var camera: CameraSource? = null

    @Volatile
    private var session: LiveSession? = null
    private var worker: Thread? = null
    private var resumed = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        status = TextView(this).apply { text = getString(R.string.loading) }
        output = ImageView(this).apply { scaleType = ImageView.ScaleType.FIT_CENTER }
        val recenter = Button(this).apply {
            text = getString(R.string.recenter)
            setOnClickListener { session?.live?.recenter() }
        }
        setContentView(
            LinearLayout(this).apply {
                orientation = LinearLayout.VERTICAL
                addView(status)
                addView(recenter)
                addView(output, LinearLayout.LayoutParams(MATCH, 0, 1f))
            }
        )
        if (checkSelfPermission(Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            begin()
        } else {
            requestPermissions(arrayOf(Manifest.permission.CAMERA), CAMERA_REQUEST)
        }
    }

    override fun onRequestPermissionsResult(code: Int, names: Array<String>, results: IntArray) {
        if (code != CAMERA_REQUEST) return
        if (results.firstOrNull() == PackageManager.PERMISSION_GRANTED) {
            begin()
        } else {
            status.text = getString(R.string.no_camera_permission)
        }
    }

    private fun begin() {
        worker = thread(name = "mpkit-live") {
            try {
                val device = AndroidDevice(this, application as Runtimes)
                val bundle = newestBundle(device.bundleRoots) ?: return@thread show(
                    "no bundle in ${device.bundleRoots.joinToString(" or ")}: deploy one with " +
                        "mpkit deploy"
                )
                LiveSession.open(bundle, device).use { opened ->
                    session = opened
                    runOnUiThread { if (resumed) startCamera() }
                    animate(opened, bundle.name)
                }
            } catch (e: Exception) {
                show(e.message ?: e.toString())
            } finally {
                session = null
            }
        }
    }

    override fun onResume() {
        super.onResume()
        resumed = true
        if (session != null) startCamera()
    }

    override fun onPause() {
        resumed = false
        camera?.close()
        camera = null
        super.onPause()
    }

    private fun startCamera() {
        if (camera ==
            null
        ) {
            camera = CameraSource(this, frames::offer) { show(it) }.also { it.start() }
        }
    }

    private fun animate(session: LiveSession, name: String) {
        var shown = 0
        var noFace = 0
        val start = System.nanoTime()
        while (true) {
            val frame = frames.take() ?: return
            val image = session.live.next(frame)
            if (image == null) noFace++ else shown++
            val fps = shown / ((System.nanoTime() - start) / 1e9)
            val line = String.format(
                Locale.ROOT,
                "%s: %.1f FPS, %d camera frames replaced while busy, %d without a face",
                name,
                fps,
                frames.dropped,
                noFace
            )
            val bitmap = image?.let(::bitmap)
            runOnUiThread {
                status.text = line
                bitmap?.let(output::setImageBitmap)
            }
        }
    }

    private fun newestBundle(roots: List<File>): File? =
        roots.flatMap { it.listFiles()?.toList().orEmpty() }
            .filter { File(it, "manifest.json").isFile }
            .maxByOrNull { it.lastModified() }

    private fun show(text: String) = runOnUiThread { status.text = text }

    override fun onDestroy() {
        frames.close() // the worker ends and closes its session
        super.onDestroy()
    }

    private companion object {
        const val CAMERA_REQUEST = 1
        const val MATCH = LinearLayout.LayoutParams.MATCH_PARENT

        fun bitmap(image: RgbImage): Bitmap {
            val px = image.pixels
            val argb = IntArray(image.width * image.height) { i ->
                val r = px[3 * i].toInt() and 0xFF
                val g = px[3 * i + 1].toInt() and 0xFF
                val b = px[3 * i + 2].toInt() and 0xFF
                (0xFF shl 24) or (r shl 16) or (g shl 8) or b
            }
            return Bitmap.createBitmap(argb, image.width, image.height, Bitmap.Config.ARGB_8888)
        }
    }
}
