package org.mpkit.bench

import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.os.BatteryManager
import android.os.Debug
import java.io.File
import org.mpkit.core.BenchDevice
import org.mpkit.core.BundleException
import org.mpkit.core.ComponentRunner
import org.mpkit.core.HelperEntry
import org.mpkit.core.Manifest
import org.mpkit.core.MediaException
import org.mpkit.core.OpenedRunner
import org.mpkit.core.Protocol
import org.mpkit.core.RgbImage
import org.mpkit.core.RoutingRunner

/**
 * The phone as a benchmark device: the bundle's components on its own runtime (ExecuTorch in
 * this process, or LiteRT with the requested delegate), its face and segmentation helpers on
 * LiteRT's CPU, media from the platform decoders, and the phone's own state.
 */
class AndroidDevice(private val context: Context, private val runtimes: Runtimes) : BenchDevice {
    override val measuredOn = Protocol.MEASURED_ON_DEVICE

    /** The folders the app takes bundles from: where mpkit deploy pushes, and its own files. */
    val bundleRoots = listOf(File(Protocol.DEPLOYED_BUNDLES), File(context.filesDir, "bundles"))

    override fun open(
        bundle: File,
        manifest: Manifest,
        delegate: String?,
        threads: Int
    ): OpenedRunner {
        val chosen = manifest.delegate(delegate)
        val components: ComponentRunner = when (manifest.runtime) {
            "executorch" -> ExecuTorchRunner(bundle, manifest, threads)

            "litert" -> runtimes.liteRt(
                manifest.components.map { LiteRtModel(it.name, File(bundle, it.file), it.outputs) },
                chosen,
                threads
            )

            else -> throw BundleException("this app has no runtime '${manifest.runtime}'")
        }
        val helpers = manifest.helpers.filter { it.runtime == "litert" }
        val helperRunner = try {
            runtimes.liteRt(
                helpers.map {
                    LiteRtModel(it.name, File(bundle, it.file), null)
                },
                "cpu",
                threads
            )
        } catch (e: Exception) {
            components.close()
            throw e
        }
        val routes = manifest.components.associate { it.name to components } +
            helpers.associate { it.name to helperRunner }
        return OpenedRunner(RoutingRunner(routes), chosen, bridged = false)
    }

    override fun decode(bundle: File, helper: HelperEntry): List<RgbImage> {
        val file = File(bundle, helper.file)
        return when (file.extension.lowercase()) {
            in PHOTOS -> listOf(PhotoDecoder.decode(file))

            in VIDEOS -> VideoDecoder.decode(file, MAX_DRIVING_BYTES)

            else -> throw MediaException(
                "${helper.file}: not a photo (${PHOTOS.joinToString()}) or a video " +
                    "(${VIDEOS.joinToString()})"
            )
        }
    }

    /**
     * The battery's temperature: the one reading every app may take (thermal zones in sysfs
     * are closed to apps by sepolicy on current Android).
     */
    override fun temperatureC(): Double? =
        context.registerReceiver(null, IntentFilter(Intent.ACTION_BATTERY_CHANGED))
            ?.getIntExtra(BatteryManager.EXTRA_TEMPERATURE, Int.MIN_VALUE)
            ?.takeIf { it != Int.MIN_VALUE }
            ?.let { it / 10.0 }

    /** This process's PSS, which holds the models, the runtimes and the frames. */
    override fun pssMb(): Double = Debug.getPss() / 1024.0

    private companion object {
        val PHOTOS = setOf("jpg", "jpeg", "png", "webp")
        val VIDEOS = setOf("mp4", "webm", "mkv", "3gp")
        const val MAX_DRIVING_BYTES = 1L shl 28 // of RGB frames, as the virtual device decodes
    }
}
