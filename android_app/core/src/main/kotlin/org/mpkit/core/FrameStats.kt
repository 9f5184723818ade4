package org.mpkit.core

/**
 * Frame-time statistics as python_tools/mpkit/bench/stats.py computes them: percentiles
 * (numpy's default linear method), mean, FPS, and the frames over a 30 / 60 FPS budget (a count
 * of slow frames, not of frames a display dropped).
 */
data class FrameStats(
    val p50Ms: Double,
    val p90Ms: Double,
    val p99Ms: Double,
    val meanMs: Double,
    val fps: Double,
    val overBudget30: Int,
    val overBudget60: Int
) {
    /** The same statistics under the names `mpkit.bench.stats.summarize` gives them. */
    fun toMap(): Map<String, Number> = linkedMapOf(
        "p50_ms" to p50Ms,
        "p90_ms" to p90Ms,
        "p99_ms" to p99Ms,
        "mean_ms" to meanMs,
        "fps" to fps,
        "over_budget_30" to overBudget30,
        "over_budget_60" to overBudget60
    )

    companion object {
        const val BUDGET_30_MS = 1000.0 / 30
        const val BUDGET_60_MS = 1000.0 / 60

        /** Statistics of `frameMs`, or null when there are no frames. */
        fun of(frameMs: List<Double>): FrameStats? {
            if (frameMs.isEmpty()) return null
            val sorted = frameMs.sorted()
            val mean = pairwiseSum(frameMs, 0, frameMs.size) / frameMs.size
            return FrameStats(
                percentile(sorted, 50.0),
                percentile(sorted, 90.0),
                percentile(sorted, 99.0),
                mean,
                1000.0 / mean,
                frameMs.count { it > BUDGET_30_MS },
                frameMs.count { it > BUDGET_60_MS }
            )
        }

        /** numpy.percentile(method="linear") of ascending `sorted`, with numpy's lerp. */
        fun percentile(sorted: List<Double>, q: Double): Double {
            val index = (sorted.size - 1) * (q / 100)
            val below = kotlin.math.floor(index).toInt()
            val a = sorted[below]
            val b = sorted[minOf(below + 1, sorted.size - 1)]
            val t = index - below
            val diff = b - a
            return if (t >= 0.5) b - diff * (1 - t) else a + diff * t
        }

        /** numpy's pairwise summation of values[start, start + n), so the mean matches numpy's. */
        private fun pairwiseSum(values: List<Double>, start: Int, n: Int): Double {
            if (n < 8) {
                var sum = 0.0
                for (i in start until start + n) sum += values[i]
                return sum
            }
            if (n <= 128) {
                val r = DoubleArray(8) { values[start + it] }
                var i = 8
                while (i < n - n % 8) {
                    for (j in 0 until 8) r[j] += values[start + i + j]
                    i += 8
                }
                var sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
                while (i < n) sum += values[start + i++]
                return sum
            }
            val half = n / 2 - (n / 2) % 8
            return pairwiseSum(values, start, half) + pairwiseSum(values, start + half, n - half)
        }
    }
}
