package org.mpkit.bench

import android.app.Application
import org.mpkit.core.ComponentRunner

/** The app: it lends its activities the LiteRT runtime (not compiled here, see [Runtimes]). */
class BenchApplication :
    Application(),
    Runtimes {
    override fun liteRt(
        models: List<LiteRtModel>,
        delegate: String,
        threads: Int
    ): ComponentRunner = LiteRtRunner(models, delegate, threads)
}
