package org.mpkit.core

import java.io.DataInputStream
import java.io.EOFException
import java.io.InputStream
import java.io.OutputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.json.JSONArray
import org.json.JSONObject

/**
 * A [ComponentRunner] over the virtual device's tensor bridge (python_tools/mpkit/vdevice/
 * tensor_bridge.py): a child process that runs the components on the host runtimes. Frames: a
 * little-endian u32 header length, the JSON header, then the tensors as little-endian float32.
 */
class PipeBridge(private val input: InputStream, private val output: OutputStream) :
    ComponentRunner {
    private val data = DataInputStream(input)
    override var lastRuntimeMs = 0.0
        private set

    /** Loads a bundle on the bridge; the answer names the runtime and delegate that really run. */
    fun load(bundle: String, delegate: String?, threads: Int): JSONObject {
        val header = JSONObject().put("op", "load").put("bundle", bundle).put("threads", threads)
        header.put("delegate", delegate ?: JSONObject.NULL)
        send(header, emptyList())
        return receive("outputs").first
    }

    override fun run(component: String, inputs: List<Tensor>): List<Tensor> {
        val specs = JSONArray()
        for (t in inputs) {
            specs.put(
                JSONObject().put("name", t.name).put("shape", JSONArray(t.shape.toList()))
            )
        }
        send(JSONObject().put("op", "run").put("component", component).put("inputs", specs), inputs)
        val (header, outputs) = receive("outputs")
        lastRuntimeMs = header.getDouble("runtime_ms")
        return outputs
    }

    /**
     * The loaded bundle's sample photo or driving clip (`helper` is its role), decoded by the
     * host as a phone's platform decoders would decode it.
     */
    fun decode(helper: String): List<RgbImage> {
        send(JSONObject().put("op", "decode").put("helper", helper), emptyList())
        val frames = receive("frames").second.singleOrNull()
            ?: throw ComponentException("the bridge sent no frames for $helper")
        val shape = frames.shape
        if (shape.size != 4 || shape[3] != 3 || shape[0] < 1) {
            throw ComponentException("$helper: the bridge sent frames of shape ${shape.toList()}")
        }
        val size = shape[1] * shape[2] * 3
        return List(shape[0]) { i ->
            val pixels = ByteArray(size) { frames.data[i * size + it].toInt().toByte() }
            RgbImage(shape[2], shape[1], pixels)
        }
    }

    override fun close() {
        runCatching { send(JSONObject().put("op", "quit"), emptyList()) }
        output.close()
        input.close()
    }

    private fun send(header: JSONObject, tensors: List<Tensor>) {
        val body = header.toString().toByteArray(Charsets.UTF_8)
        val size = tensors.sumOf { it.data.size }
        val frame = ByteBuffer.allocate(4 + body.size + 4 * size).order(ByteOrder.LITTLE_ENDIAN)
        frame.putInt(body.size).put(body)
        for (t in tensors) for (v in t.data) frame.putFloat(v)
        output.write(frame.array())
        output.flush()
    }

    private fun receive(tensorsKey: String): Pair<JSONObject, List<Tensor>> {
        val length = Integer.reverseBytes(readInt())
        if (length < 0 || length > MAX_HEADER_BYTES) {
            throw ComponentException(
                "the bridge sent a $length-byte header (cap $MAX_HEADER_BYTES)"
            )
        }
        val header = JSONObject(String(readBytes(length), Charsets.UTF_8))
        if (header.has("error")) throw ComponentException(header.getString("error"))
        val specs = header.optJSONArray(tensorsKey) ?: JSONArray()
        val tensors = List(specs.length()) { i ->
            val spec = specs.getJSONObject(i)
            val dims = spec.getJSONArray("shape")
            val shape = IntArray(dims.length()) { dims.getInt(it) }
            val count = shape.fold(1L) { n, d -> n * d }
            if (shape.any { it < 0 } || 4 * count > MAX_TENSOR_BYTES) {
                throw ComponentException(
                    "the bridge sent a tensor of shape ${shape.toList()} (cap $MAX_TENSOR_BYTES bytes)"
                )
            }
            val buffer = ByteBuffer.wrap(
                readBytes((4 * count).toInt())
            ).order(ByteOrder.LITTLE_ENDIAN)
            Tensor(spec.getString("name"), shape, FloatArray(count.toInt()) { buffer.getFloat() })
        }
        return header to tensors
    }

    private fun readInt(): Int = try {
        data.readInt()
    } catch (e: EOFException) {
        throw ComponentException("the bridge closed its output (did the child process die?)")
    }

    private fun readBytes(n: Int): ByteArray = ByteArray(n).also {
        try {
            data.readFully(it)
        } catch (e: EOFException) {
            throw ComponentException("the bridge closed its output inside a frame")
        }
    }

    companion object {
        const val MAX_HEADER_BYTES = 1 shl 16
        const val MAX_TENSOR_BYTES = 1 shl 28

        /** Starts the bridge as a child process (`command`), its stderr passed through. */
        fun start(command: List<String>): Pair<Process, PipeBridge> {
            val process = ProcessBuilder(
                command
            ).redirectError(ProcessBuilder.Redirect.INHERIT).start()
            return process to PipeBridge(process.inputStream, process.outputStream)
        }
    }
}
