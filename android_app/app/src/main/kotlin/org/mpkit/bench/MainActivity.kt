package org.mpkit.bench

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.content.pm.PackageManager
import android.graphics.Bitmap
import android.net.Uri
import android.os.Bundle
import android.view.View
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.Spinner
import android.widget.TextView
import java.io.File
import java.util.Locale
import kotlin.concurrent.thread
import org.mpkit.core.BenchmarkRun
import org.mpkit.core.DrivingSource
import org.mpkit.core.LatestFrame
import org.mpkit.core.LiveSession
import org.mpkit.core.MediaException
import org.mpkit.core.ModelBundle
import org.mpkit.core.RgbImage

/**
 * The main screen: a deployed bundle's avatar (its sample photo, or one picked from the phone)
 * driven live by the front camera or by the bundle's sample clip, on the delegate picked, with
 * its frame rate, median frame latency, held frames and camera frames replaced while busy.
 */
class MainActivity : Activity() {
    private lateinit var status: TextView
    private lateinit var output: ImageView
    private lateinit var bundles: Spinner
    private lateinit var delegates: Spinner
    private lateinit var drivings: Spinner
    private lateinit var device: AndroidDevice
    private var photo: File? = null

    @Volatile // the session's mailbox: a new one per session, closed when the session ends
    private var frames = LatestFrame<RgbImage>()
    private var camera: CameraSource? = null
    private var resumed = false

    @Volatile
    private var session: LiveSession? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        device = AndroidDevice(this, application as Runtimes)
        status = TextView(this)
        output = ImageView(this).apply { scaleType = ImageView.ScaleType.FIT_CENTER }
        bundles = spinner(foundBundles().map { it.name })
        delegates = spinner(emptyList())
        drivings = spinner(DRIVINGS.keys.toList())
        val pick = button(R.string.pick_photo) {
            startActivityForResult(Intent(Intent.ACTION_GET_CONTENT).setType("image/*"), PICK_PHOTO)
        }
        val recenter = button(R.string.recenter) { session?.live?.recenter() }
        setContentView(
            LinearLayout(this).apply {
                orientation = LinearLayout.VERTICAL
                listOf(status, bundles, delegates, drivings, pick, recenter).forEach(::addView)
                addView(output, LinearLayout.LayoutParams(MATCH, 0, 1f))
            }
        )
        if (bundles.count == 0) {
            status.text = getString(R.string.no_bundle, device.bundleRoots.joinToString(" or "))
        } else if (checkSelfPermission(Manifest.permission.CAMERA) ==
            PackageManager.PERMISSION_GRANTED
        ) {
            restart()
        } else {
            requestPermissions(arrayOf(Manifest.permission.CAMERA), CAMERA_REQUEST)
        }
    }

    override fun onRequestPermissionsResult(code: Int, names: Array<String>, results: IntArray) {
        if (code != CAMERA_REQUEST) return
        if (results.firstOrNull() != PackageManager.PERMISSION_GRANTED) {
            status.text = getString(R.string.no_camera_permission)
        }
        restart() // the sample clip drives without the camera
    }

    override fun onActivityResult(request: Int, result: Int, data: Intent?) {
        val uri = data?.data
        if (request != PICK_PHOTO || result != RESULT_OK || uri == null) return
        thread(name = "mpkit-photo") {
            try {
                photo = copied(uri)
                runOnUiThread { restart() }
            } catch (e: MediaException) {
                show(e.message ?: e.toString())
            }
        }
    }

    /** Ends the running session (its camera and worker) and opens one with the current picks. */
    private fun restart() {
        stopCamera()
        frames.close()
        val bundle = foundBundles().getOrNull(bundles.selectedItemPosition) ?: return
        val driving = DRIVINGS.getValue(drivings.selectedItem as String)
        val delegate = delegates.selectedItem as String?
        val mailbox = LatestFrame<RgbImage>().also { frames = it }
        status.text = getString(R.string.loading, bundle.name)
        thread(name = "mpkit-live") {
            try {
                val picked = photo?.let(PhotoDecoder::decode)
                LiveSession.open(bundle, device, driving, picked, delegate).use { opened ->
                    if (mailbox.isClosed) return@thread // restarted while this one opened
                    session = opened
                    runOnUiThread { showDelegates(opened) }
                    if (driving == DrivingSource.CAMERA) {
                        runOnUiThread { if (resumed) startCamera() }
                        animate(opened, bundle.name) { mailbox.take() }
                    } else {
                        val clip = sampleClip(bundle, opened)
                        var i = 0
                        animate(opened, bundle.name) {
                            clip[i++ % clip.size].takeIf { !mailbox.isClosed }
                        }
                    }
                }
            } catch (e: Exception) {
                show(e.message ?: e.toString())
            } finally {
                if (frames === mailbox) session = null
            }
        }
    }

    private fun animate(session: LiveSession, name: String, next: () -> RgbImage?) {
        val latencies = ArrayDeque<Double>()
        var shown = 0
        val start = System.nanoTime()
        while (true) {
            val frame = next() ?: return
            val t0 = System.nanoTime()
            val image = session.live.next(frame)
            latencies.addLast((System.nanoTime() - t0) / 1e6)
            if (latencies.size > LATENCY_WINDOW) latencies.removeFirst()
            shown++
            val line = String.format(
                Locale.ROOT,
                "%s on %s: %.1f FPS, p50 %.1f ms, %d held (no face), %d camera frames " +
                    "replaced while busy",
                name,
                session.delegate,
                shown / ((System.nanoTime() - start) / 1e9),
                latencies.sorted()[latencies.size / 2],
                session.live.mode.heldFrames,
                frames.dropped
            )
            val bitmap = bitmap(image)
            runOnUiThread {
                status.text = line
                output.setImageBitmap(bitmap)
            }
        }
    }

    private fun sampleClip(bundle: File, session: LiveSession): List<RgbImage> = device.decode(
        bundle,
        BenchmarkRun.sampleMedia(session.manifest, BenchmarkRun.SAMPLE_DRIVING)
    )

    private fun showDelegates(opened: LiveSession) {
        val names = opened.manifest.delegates
        if (names == (0 until delegates.count).map { delegates.getItemAtPosition(it) }) return
        delegates.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_item, names)
        delegates.setSelection(names.indexOf(opened.delegate), false)
    }

    /** The picked photo copied into the app's cache (at most [MAX_PHOTO_BYTES]). */
    private fun copied(uri: Uri): File {
        val file = File(cacheDir, "picked-photo")
        val input = contentResolver.openInputStream(uri)
            ?: throw MediaException("the picked photo cannot be opened")
        input.use { stream ->
            file.outputStream().use { out ->
                val buffer = ByteArray(1 shl 16)
                var total = 0L
                while (true) {
                    val n = stream.read(buffer)
                    if (n < 0) break
                    total += n
                    if (total > MAX_PHOTO_BYTES) {
                        throw MediaException("the picked photo is over $MAX_PHOTO_BYTES bytes")
                    }
                    out.write(buffer, 0, n)
                }
            }
        }
        return file
    }

    override fun onResume() {
        super.onResume()
        resumed = true
        if (session != null && drivings.selectedItem == CAMERA) startCamera()
    }

    override fun onPause() {
        resumed = false
        stopCamera()
        super.onPause()
    }

    override fun onDestroy() {
        frames.close() // the worker ends and closes its session
        super.onDestroy()
    }

    private fun startCamera() {
        if (camera != null) return
        val mailbox = frames
        camera = CameraSource(this, mailbox::offer) { show(it) }.also { it.start() }
    }

    private fun stopCamera() {
        camera?.close()
        camera = null
    }

    private fun foundBundles(): List<File> = device.bundleRoots
        .flatMap { it.listFiles()?.toList().orEmpty() }
        .filter { File(it, ModelBundle.MANIFEST).isFile }
        .sortedByDescending { it.lastModified() }

    private fun spinner(items: List<String>) = Spinner(this).apply {
        adapter = ArrayAdapter(this@MainActivity, android.R.layout.simple_spinner_item, items)
        onItemSelectedListener = object : AdapterView.OnItemSelectedListener {
            private var first = true

            override fun onItemSelected(parent: AdapterView<*>?, view: View?, at: Int, id: Long) {
                if (first) first = false else restart()
            }

            override fun onNothingSelected(parent: AdapterView<*>?) = Unit
        }
    }

    private fun button(label: Int, onClick: () -> Unit) = Button(this).apply {
        text = getString(label)
        setOnClickListener { onClick() }
    }

    private fun show(text: String) = runOnUiThread { status.text = text }

    private companion object {
        const val CAMERA_REQUEST = 1
        const val PICK_PHOTO = 2
        const val MAX_PHOTO_BYTES = 64L shl 20
        const val LATENCY_WINDOW = 30
        const val CAMERA = "camera"
        val DRIVINGS = linkedMapOf(
            CAMERA to DrivingSource.CAMERA,
            "sample clip" to DrivingSource.VIDEO
        )
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
