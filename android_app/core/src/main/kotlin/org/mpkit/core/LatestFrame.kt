package org.mpkit.core

import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock

/**
 * A one-frame mailbox between a source that must never wait (the camera) and a consumer that
 * may be slower (the pipeline): a new frame replaces one not yet taken, which counts as dropped.
 */
class LatestFrame<T : Any> {
    private val lock = ReentrantLock()
    private val changed = lock.newCondition()
    private var frame: T? = null

    @Volatile
    private var closed = false

    /** True once [close] was called: the consumer is gone or going. */
    val isClosed: Boolean get() = closed

    /** Frames replaced before the consumer took them. */
    @Volatile
    var dropped = 0L
        private set

    /** Keeps `value` for the consumer (nothing once closed). */
    fun offer(value: T): Unit = lock.withLock {
        if (closed) return
        if (frame != null) dropped++
        frame = value
        changed.signalAll()
    }

    /** The newest frame, waiting for one; null once [close] was called. */
    fun take(): T? = lock.withLock {
        while (frame == null && !closed) changed.await()
        frame.also { frame = null }
    }

    fun close() = lock.withLock {
        closed = true
        frame = null
        changed.signalAll()
    }
}
