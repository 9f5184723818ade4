package org.mpkit.bench

import android.app.Activity
import android.os.Bundle
import android.util.Log
import android.view.WindowManager
import java.io.File
import kotlin.concurrent.thread
import org.mpkit.core.BenchmarkRun
import org.mpkit.core.MpkitException

/**
 * The activity the harness starts (`am start -n org.mpkit.bench/.BenchmarkActivity --es ...`):
 * runs the request in its extras on a background thread, writes the result under
 * `files/bench/` (read back with run-as) and finishes. The screen stays on while it runs.
 */
class BenchmarkActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        if (savedInstanceState != null) { // re-created while running: the first run goes on
            finish()
            return
        }
        window.addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON)
        val extras = intent.extras?.let { b -> b.keySet().associateWith { b.get(it) } }.orEmpty()
        val device = AndroidDevice(applicationContext, application as Runtimes)
        thread(name = "mpkit-benchmark") {
            try {
                BenchmarkRun.fromExtras(
                    extras,
                    File(filesDir, "bench"),
                    device,
                    BenchmarkRun.confinedTo(device.bundleRoots)
                )
            } catch (e: MpkitException) {
                Log.e(TAG, "no result written: ${e.message}") // the request had no readable run_id
            } catch (e: Throwable) {
                Log.e(TAG, "no result written", e)
            } finally {
                runOnUiThread { finish() }
            }
        }
    }

    private companion object {
        const val TAG = "mpkit"
    }
}
