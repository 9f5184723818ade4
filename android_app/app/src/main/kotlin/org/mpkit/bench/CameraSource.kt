package org.mpkit.bench

import android.content.Context
import android.graphics.ImageFormat
import android.hardware.camera2.CameraAccessException
import android.hardware.camera2.CameraCaptureSession
import android.hardware.camera2.CameraCharacteristics
import android.hardware.camera2.CameraDevice
import android.hardware.camera2.CameraManager
import android.media.ImageReader
import android.os.Handler
import android.os.HandlerThread
import org.mpkit.core.RgbImage
import org.mpkit.core.YuvConverter
import org.mpkit.core.YuvMatrix
import org.mpkit.core.YuvPlane
import org.mpkit.core.upright

/**
 * The front camera (else the first one) as upright RGB frames: camera2 into an ImageReader of
 * YUV_420_888 (full-range BT.601, as camera2 defines it) at the smallest size whose short side
 * is at least [MIN_SIDE], only the newest image taken and every image closed. Frames go to
 * `onFrame` on the camera's own thread, which must not block: hand them to a core LatestFrame.
 * Needs the CAMERA permission. Every camera call and the teardown run on that thread, so
 * [close] never frees an image the listener is reading.
 */
class CameraSource(
    context: Context,
    private val onFrame: (RgbImage) -> Unit,
    private val onError: (String) -> Unit
) : AutoCloseable {
    private val manager = context.getSystemService(Context.CAMERA_SERVICE) as CameraManager
    private val thread = HandlerThread("mpkit-camera").apply { start() }
    private val handler = Handler(thread.looper)
    private val converter = YuvConverter(YuvMatrix.BT601, fullRange = true)
    private var camera: CameraDevice? = null
    private var reader: ImageReader? = null
    private var closed = false

    fun start() {
        handler.post {
            try {
                open()
            } catch (e: CameraAccessException) {
                onError("the camera is not available: ${e.message}")
            } catch (e: SecurityException) {
                onError("the camera permission is not granted")
            }
        }
    }

    private fun open() {
        val ids = manager.cameraIdList
        val id = ids.firstOrNull { facing(it) == CameraCharacteristics.LENS_FACING_FRONT }
            ?: ids.firstOrNull() ?: return onError("this phone has no camera")
        val info = manager.getCameraCharacteristics(id)
        val mirror = facing(id) == CameraCharacteristics.LENS_FACING_FRONT
        val rotation = info.get(CameraCharacteristics.SENSOR_ORIENTATION) ?: 0
        val sizes = info.get(CameraCharacteristics.SCALER_STREAM_CONFIGURATION_MAP)
            ?.getOutputSizes(ImageFormat.YUV_420_888).orEmpty()
        val size = sizes.filter { minOf(it.width, it.height) >= MIN_SIDE }
            .minByOrNull { it.width * it.height } ?: sizes.maxByOrNull { it.width * it.height }
            ?: return onError("camera $id gives no YUV_420_888 frames")
        val reader = ImageReader.newInstance(size.width, size.height, ImageFormat.YUV_420_888, 2)
        this.reader = reader
        reader.setOnImageAvailableListener({ r ->
            r.acquireLatestImage()?.use { image ->
                val p = image.planes
                fun plane(i: Int) = YuvPlane(p[i].buffer, p[i].rowStride, p[i].pixelStride)
                converter.toRgb(image.width, image.height, plane(0), plane(1), plane(2))
            }?.let { onFrame(it.upright(rotation, mirror)) }
        }, handler)
        manager.openCamera(id, Opened(reader), handler)
    }

    private fun facing(id: String) =
        manager.getCameraCharacteristics(id).get(CameraCharacteristics.LENS_FACING)

    private inner class Opened(private val reader: ImageReader) : CameraDevice.StateCallback() {
        override fun onOpened(device: CameraDevice) {
            if (closed) return device.close()
            camera = device
            val configured = object : CameraCaptureSession.StateCallback() {
                override fun onConfigured(session: CameraCaptureSession) {
                    if (closed) return
                    try {
                        val request = device.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW)
                        request.addTarget(reader.surface)
                        session.setRepeatingRequest(request.build(), null, handler)
                    } catch (e: CameraAccessException) {
                        onError("the camera stopped: ${e.message}")
                    }
                }

                override fun onConfigureFailed(session: CameraCaptureSession) =
                    onError("the camera refused the capture session")
            }
            try {
                device.createCaptureSession(listOf(reader.surface), configured, handler)
            } catch (e: CameraAccessException) {
                onError("the camera stopped: ${e.message}")
            }
        }

        override fun onDisconnected(device: CameraDevice) = device.close()

        override fun onError(device: CameraDevice, error: Int) {
            device.close()
            onError("the camera stopped (camera2 error $error)")
        }
    }

    override fun close() {
        handler.post {
            closed = true
            camera?.close()
            reader?.close()
            thread.quitSafely()
        }
    }

    private companion object {
        const val MIN_SIDE = 480
    }
}
