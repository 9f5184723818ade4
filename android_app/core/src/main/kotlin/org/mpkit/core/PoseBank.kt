package org.mpkit.core

import org.json.JSONException
import org.json.JSONObject

/**
 * The pseudo-multiview pose bank shipped with a model as `pose_bank.json`
 * (python_tools/mpkit/pipeline/pose_bank.py): T affine motions of the keypoints. View t moves
 * every source keypoint (x, y) to ((a·x + b·y) + c, (d·x + e·y) + f) in float32, as Python
 * computes it. The T results are the `kp_driving` inputs of the source stage's T dense_motion
 * calls (their other inputs are the source's own); the T outputs, stacked on the batch axis, are
 * multiview's motion inputs. No driving frame is needed, so a photo becomes an avatar before any
 * camera frame arrives.
 */
class PoseBank(val affines: List<FloatArray>) {
    init {
        require(affines.all { it.size == 6 }) { "each pose is 6 values: a b c d e f" }
    }

    val views: Int get() = affines.size

    /** `kpSource` ([K,2] row-major, x then y) → the T view keypoints, each [K,2]. */
    fun apply(kpSource: FloatArray): List<FloatArray> = affines.map { m ->
        FloatArray(kpSource.size) { i ->
            val x = kpSource[i - i % 2]
            val y = kpSource[i - i % 2 + 1]
            val r = 3 * (i % 2)
            (m[r] * x + m[r + 1] * y) + m[r + 2]
        }
    }

    companion object {
        const val FILE = "pose_bank.json"
        const val FORMAT = "mpkit pose bank"
        const val VERSION = 1

        /** The bank in `json`; it must have `views` poses (the model's T). */
        fun parse(json: JSONObject, views: Int): PoseBank {
            val bank = try {
                val format = json.optString("format")
                val version = json.optInt("version", -1)
                if (format != FORMAT || version != VERSION) {
                    throw BundleException(
                        "$FILE: not a $FORMAT version $VERSION (format '$format', " +
                            "version $version): export the bundle again with this mpkit"
                    )
                }
                val rows = json.getJSONArray("affines")
                PoseBank(
                    (0 until rows.length()).map { t ->
                        val m = rows.getJSONArray(t)
                        val shape = (0 until m.length()).map { m.getJSONArray(it).length() }
                        require(shape == listOf(3, 3)) { "pose $t is not 2 rows of 3 values" }
                        FloatArray(6) { m.getJSONArray(it / 3).getDouble(it % 3).toFloat() }
                    }
                )
            } catch (e: JSONException) {
                throw BundleException("$FILE: unreadable: ${e.message}")
            } catch (e: IllegalArgumentException) {
                throw BundleException("$FILE: ${e.message}")
            }
            if (bank.views != views) {
                throw BundleException(
                    "$FILE has ${bank.views} poses, the model has $views views: export the " +
                        "bundle again"
                )
            }
            return bank
        }
    }
}
