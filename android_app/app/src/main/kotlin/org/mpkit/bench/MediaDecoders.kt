package org.mpkit.bench

import android.graphics.Bitmap
import android.graphics.BitmapFactory
import android.graphics.Matrix
import android.media.ExifInterface
import android.media.Image
import android.media.MediaCodec
import android.media.MediaCodecInfo
import android.media.MediaExtractor
import android.media.MediaFormat
import java.io.File
import java.io.IOException
import java.nio.ByteBuffer
import org.mpkit.core.MediaException
import org.mpkit.core.RgbImage
import org.mpkit.core.YuvConverter
import org.mpkit.core.YuvMatrix
import org.mpkit.core.YuvPlane

/**
 * A photo as the platform decodes it, EXIF orientation applied (as mpkit's OpenCV read does).
 * Photos over [MAX_PIXELS] are refused before they are decoded.
 */
object PhotoDecoder {
    const val MAX_PIXELS = 16_000_000L

    fun decode(file: File): RgbImage {
        val bounds = BitmapFactory.Options().apply { inJustDecodeBounds = true }
        BitmapFactory.decodeFile(file.path, bounds)
        if (bounds.outWidth <= 0 || bounds.outHeight <= 0) {
            throw MediaException("$file: not a photo the platform can decode (JPEG, PNG, WebP)")
        }
        if (bounds.outWidth.toLong() * bounds.outHeight > MAX_PIXELS) {
            throw MediaException(
                "$file: ${bounds.outWidth}x${bounds.outHeight} is over $MAX_PIXELS pixels: " +
                    "downscale the photo first"
            )
        }
        val options = BitmapFactory.Options().apply {
            inPreferredConfig = Bitmap.Config.ARGB_8888
        }
        val bitmap = BitmapFactory.decodeFile(file.path, options)
            ?: throw MediaException("$file: the platform could not decode it")
        val upright = oriented(bitmap, orientation(file))
        if (upright !== bitmap) bitmap.recycle()
        return upright.toRgb().also { upright.recycle() }
    }

    private fun orientation(file: File): Int = try {
        ExifInterface(file.path)
            .getAttributeInt(ExifInterface.TAG_ORIENTATION, ExifInterface.ORIENTATION_NORMAL)
    } catch (e: IOException) {
        ExifInterface.ORIENTATION_NORMAL
    }

    private fun oriented(bitmap: Bitmap, orientation: Int): Bitmap {
        val m = Matrix()
        when (orientation) {
            ExifInterface.ORIENTATION_FLIP_HORIZONTAL -> m.setScale(-1f, 1f)

            ExifInterface.ORIENTATION_ROTATE_180 -> m.setRotate(180f)

            ExifInterface.ORIENTATION_FLIP_VERTICAL -> m.setScale(1f, -1f)

            ExifInterface.ORIENTATION_TRANSPOSE -> m.apply {
                setRotate(90f)
                postScale(-1f, 1f)
            }

            ExifInterface.ORIENTATION_ROTATE_90 -> m.setRotate(90f)

            ExifInterface.ORIENTATION_TRANSVERSE -> m.apply {
                setRotate(-90f)
                postScale(-1f, 1f)
            }

            ExifInterface.ORIENTATION_ROTATE_270 -> m.setRotate(-90f)

            else -> return bitmap
        }
        return Bitmap.createBitmap(bitmap, 0, 0, bitmap.width, bitmap.height, m, true)
    }

    private fun Bitmap.toRgb(): RgbImage { // a row at a time: no second full-size copy
        val row = IntArray(width)
        val out = RgbImage(width, height)
        for (y in 0 until height) {
            getPixels(row, 0, width, 0, y, width, 1)
            for (x in 0 until width) {
                val at = 3 * (y * width + x)
                out.pixels[at] = (row[x] shr 16).toByte()
                out.pixels[at + 1] = (row[x] shr 8).toByte()
                out.pixels[at + 2] = row[x].toByte()
            }
        }
        return out
    }
}

/**
 * A clip's frames from the platform's video decoder (MediaExtractor and MediaCodec, YUV 4:2:0
 * flexible output), converted with the stream's colour standard and range by [YuvConverter].
 * Decoding stops at `maxBytes` of RGB frames; a decoder that makes no progress is an error.
 */
object VideoDecoder {
    private const val TIMEOUT_US = 10_000L
    private const val MAX_IDLE_POLLS = 500 // 5 s without a frame or an accepted sample

    // MediaFormat's color-standard and color-range keys and values (API 24; named here for API 23)
    private const val KEY_COLOR_STANDARD = "color-standard"
    private const val KEY_COLOR_RANGE = "color-range"
    private const val COLOR_STANDARD_BT709 = 1
    private const val COLOR_STANDARD_BT601_PAL = 2
    private const val COLOR_STANDARD_BT601_NTSC = 4
    private const val COLOR_RANGE_FULL = 1
    private const val KEY_ROTATION = "rotation-degrees"

    fun decode(file: File, maxBytes: Long): List<RgbImage> {
        val extractor = MediaExtractor()
        try {
            extractor.setDataSource(file.path)
            val track = (0 until extractor.trackCount).firstOrNull {
                extractor.getTrackFormat(it).getString(MediaFormat.KEY_MIME)
                    ?.startsWith("video/") == true
            } ?: throw MediaException("$file: no video track")
            extractor.selectTrack(track)
            val format = extractor.getTrackFormat(track)
            if (format.containsKey(KEY_ROTATION) && format.getInteger(KEY_ROTATION) != 0) {
                throw MediaException(
                    "$file: the clip is stored rotated by ${format.getInteger(KEY_ROTATION)}°, " +
                        "which this app does not turn yet: re-encode it upright"
                )
            }
            val mime = format.getString(MediaFormat.KEY_MIME)
            val codec = try {
                MediaCodec.createDecoderByType(mime)
            } catch (e: IOException) {
                throw MediaException("$file: this phone has no $mime decoder")
            }
            try {
                format.setInteger(
                    MediaFormat.KEY_COLOR_FORMAT,
                    MediaCodecInfo.CodecCapabilities.COLOR_FormatYUV420Flexible
                )
                codec.configure(format, null, null, 0)
                codec.start()
                return frames(file, extractor, codec, maxBytes)
            } finally {
                codec.release()
            }
        } catch (e: IOException) {
            throw MediaException("$file: cannot read it as a video: ${e.message}")
        } finally {
            extractor.release()
        }
    }

    private fun frames(
        file: File,
        extractor: MediaExtractor,
        codec: MediaCodec,
        maxBytes: Long
    ): List<RgbImage> {
        val out = ArrayList<RgbImage>()
        val info = MediaCodec.BufferInfo()
        var converter = converter(codec.inputFormat)
        var inputDone = false
        var bytes = 0L
        var idle = 0
        while (idle < MAX_IDLE_POLLS) {
            idle++
            if (!inputDone) {
                val index = codec.dequeueInputBuffer(TIMEOUT_US)
                if (index >= 0) {
                    val size = extractor.readSampleData(codec.getInputBuffer(index)!!, 0)
                    if (size < 0) {
                        codec.queueInputBuffer(index, 0, 0, 0, MediaCodec.BUFFER_FLAG_END_OF_STREAM)
                        inputDone = true
                    } else {
                        codec.queueInputBuffer(index, 0, size, extractor.sampleTime, 0)
                        extractor.advance()
                    }
                    idle = 0
                }
            }
            val index = codec.dequeueOutputBuffer(info, TIMEOUT_US)
            if (index == MediaCodec.INFO_OUTPUT_FORMAT_CHANGED) {
                converter = converter(codec.outputFormat)
            } else if (index >= 0) {
                idle = 0
                val image = if (info.size > 0) {
                    codec.getOutputImage(index)
                        ?: throw MediaException("$file: the decoder gave a frame with no image")
                } else {
                    null
                }
                val frame = image?.use { rgb(file, converter, it) }
                codec.releaseOutputBuffer(index, false)
                if (frame != null) {
                    bytes += frame.pixels.size
                    if (bytes > maxBytes) return out
                    out += frame
                }
                if (info.flags and MediaCodec.BUFFER_FLAG_END_OF_STREAM != 0) {
                    if (out.isEmpty()) throw MediaException("$file: the video has no frames")
                    return out
                }
            }
        }
        throw MediaException("$file: the video decoder stopped giving frames after ${out.size}")
    }

    private fun converter(format: MediaFormat): YuvConverter {
        fun int(key: String) = if (format.containsKey(key)) format.getInteger(key) else null
        val matrix = when (int(KEY_COLOR_STANDARD)) {
            COLOR_STANDARD_BT709 -> YuvMatrix.BT709

            COLOR_STANDARD_BT601_PAL, COLOR_STANDARD_BT601_NTSC -> YuvMatrix.BT601

            null -> if (format.getInteger(MediaFormat.KEY_HEIGHT) >=
                720
            ) {
                YuvMatrix.BT709
            } else {
                YuvMatrix.BT601
            }

            else -> throw MediaException(
                "colour standard ${int(KEY_COLOR_STANDARD)} (wide gamut) is not supported: " +
                    "re-encode the clip as BT.601 or BT.709"
            )
        }
        return YuvConverter(matrix, int(KEY_COLOR_RANGE) == COLOR_RANGE_FULL)
    }

    private fun rgb(file: File, converter: YuvConverter, image: Image): RgbImage {
        val crop = image.cropRect
        if (crop.left % 2 != 0 || crop.top % 2 != 0) {
            throw MediaException("$file: the decoder's crop starts at an odd pixel ($crop)")
        }
        val planes = image.planes
        if (planes.size !=
            3
        ) {
            throw MediaException("$file: the decoder gave ${planes.size} planes, not YUV")
        }
        fun plane(i: Int, shift: Int): YuvPlane {
            val p = planes[i]
            val offset = (crop.top shr shift) * p.rowStride + (crop.left shr shift) * p.pixelStride
            val buffer: ByteBuffer = p.buffer.duplicate().apply { position(offset) }.slice()
            return YuvPlane(buffer, p.rowStride, p.pixelStride)
        }
        return converter.toRgb(crop.width(), crop.height(), plane(0, 0), plane(1, 1), plane(2, 1))
    }
}
