package org.mpkit.core

import java.nio.ByteBuffer
import java.nio.CharBuffer
import java.nio.charset.CodingErrorAction
import org.json.JSONArray
import org.json.JSONException
import org.json.JSONObject
import org.json.JSONTokener

/**
 * Untrusted JSON bytes as one JSONObject: a size cap, strict UTF-8, a nesting limit checked
 * before org.json recurses, no trailing data. Errors start with `source` and name `what`.
 */
internal fun parseJsonObject(
    data: ByteArray,
    source: String,
    what: String,
    maxBytes: Int,
    maxDepth: Int,
    error: (String) -> MpkitException
): JSONObject {
    if (data.size > maxBytes) {
        throw error("$source: ${data.size} bytes, over the $maxBytes byte limit for $what")
    }
    val text = decodeUtf8(data) ?: throw error(
        "$source: not UTF-8 text (byte ${firstBadByte(data)}), so not $what"
    )
    // org.json recurses per level: refuse deep input before it can overflow the stack.
    // Bracket depth is at most one more than the depth of the parsed tree (see jsonDepth).
    if (bracketDepth(text) > maxDepth + 1) {
        throw error("$source: nested more than $maxDepth levels deep (not $what)")
    }
    val value = try {
        val tokener = JSONTokener(text)
        tokener.nextValue().also {
            if (tokener.nextClean() != 0.toChar()) throw JSONException("data after the JSON value")
        }
    } catch (e: JSONException) {
        throw error("$source: not valid JSON (${e.message})")
    }
    if (value !is JSONObject) {
        throw error("$source: a JSON ${jsonTypeName(value)}, not an object (not $what)")
    }
    if (jsonDepth(value) > maxDepth) {
        throw error("$source: nested more than $maxDepth levels deep (not $what)")
    }
    return value
}

private fun decoder() = Charsets.UTF_8.newDecoder()
    .onMalformedInput(CodingErrorAction.REPORT)
    .onUnmappableCharacter(CodingErrorAction.REPORT)

private fun decodeUtf8(data: ByteArray): String? {
    val out = CharBuffer.allocate(data.size)
    val decoder = decoder()
    if (decoder.decode(ByteBuffer.wrap(data), out, true).isError) return null
    if (decoder.flush(out).isError) return null
    return out.flip().toString()
}

private fun firstBadByte(data: ByteArray): Int {
    val input = ByteBuffer.wrap(data)
    decoder().decode(input, CharBuffer.allocate(data.size), true)
    return input.position()
}

private fun bracketDepth(text: String): Int {
    var depth = 0
    var deepest = 0
    var inString = false
    var escaped = false
    for (c in text) {
        when {
            escaped -> escaped = false
            inString && c == '\\' -> escaped = true
            c == '"' -> inString = !inString
            inString -> Unit
            c == '[' || c == '{' -> deepest = maxOf(deepest, ++depth)
            c == ']' || c == '}' -> depth--
        }
    }
    return deepest
}

/** How deeply `value` nests arrays and objects, counted as mpkit's Python side counts it. */
internal fun jsonDepth(value: Any?): Int {
    var depth = 0
    var level = listOf(value)
    while (level.isNotEmpty()) {
        depth++
        level = level.flatMap { children(it) }
    }
    return depth - 1
}

private fun children(value: Any?): List<Any?> = when (value) {
    is JSONObject -> value.keys().asSequence().map { value.get(it) }.toList()
    is JSONArray -> List(value.length()) { value.get(it) }
    else -> emptyList()
}

internal fun jsonTypeName(value: Any?): String = when (value) {
    is JSONObject -> "object"
    is JSONArray -> "array"
    is String -> "string"
    is Boolean -> "boolean"
    is Number -> "number"
    JSONObject.NULL, null -> "null"
    else -> value.javaClass.simpleName
}

/** JSON values as plain Kotlin values: Map, List, String, Number, Boolean, null. */
internal fun plain(value: Any?): Any? = when (value) {
    is JSONObject -> value.keys().asSequence().associateWith { plain(value.get(it)) }
    is JSONArray -> List(value.length()) { plain(value.get(it)) }
    JSONObject.NULL -> null
    else -> value
}

/** Plain Kotlin values (as `plain` returns them) back to org.json values. */
internal fun json(value: Any?): Any = when (value) {
    null -> JSONObject.NULL
    is Map<*, *> -> JSONObject().apply { value.forEach { (k, v) -> put(k as String, json(v)) } }
    is List<*> -> JSONArray().apply { value.forEach { put(json(it)) } }
    else -> value
}

/**
 * Typed, located reads of one JSON object: a wrong type or a missing field is an error naming
 * the field's path (`components.0.file`), and fields outside the schema are refused.
 */
internal class Fields(
    private val obj: JSONObject,
    private val path: String,
    private val error: (String) -> MpkitException
) {
    private fun at(key: String) = if (path.isEmpty()) key else "$path.$key"

    fun fail(key: String, why: String): Nothing = throw error("${at(key)}: $why")

    fun only(allowed: Collection<String>) {
        val unknown = obj.keys().asSequence().filter { it !in allowed }.sorted().toList()
        if (unknown.isNotEmpty()) fail(unknown.first(), "unknown field (not in the schema)")
    }

    fun has(key: String) = obj.has(key)

    private fun value(key: String): Any {
        if (!obj.has(key)) fail(key, "field required")
        return obj.get(key)
    }

    private fun wrong(key: String, expected: String, got: Any): Nothing =
        fail(key, "expected $expected, got a ${jsonTypeName(got)}")

    fun isNull(key: String) = value(key) == JSONObject.NULL

    fun string(key: String): String = value(key).let { it as? String ?: wrong(key, "a string", it) }

    fun bool(key: String): Boolean =
        value(key).let { it as? Boolean ?: wrong(key, "true or false", it) }

    fun double(key: String): Double = asDouble(value(key)) ?: wrong(key, "a number", value(key))

    fun long(key: String): Long = asLong(value(key)) ?: wrong(key, "an integer", value(key))

    fun int(key: String): Int {
        val v = long(key)
        if (v !in Int.MIN_VALUE..Int.MAX_VALUE) fail(key, "$v is out of range for an integer")
        return v.toInt()
    }

    fun stringOrNull(key: String) = if (isNull(key)) null else string(key)

    fun doubleOrNull(key: String) = if (isNull(key)) null else double(key)

    fun fields(key: String): Fields =
        Fields(value(key).let { it as? JSONObject ?: wrong(key, "an object", it) }, at(key), error)

    private fun array(key: String): JSONArray =
        value(key).let { it as? JSONArray ?: wrong(key, "an array", it) }

    /** Each element of array `key` read by `read` at its own path (`key.3`). */
    fun <T> list(key: String, read: (Fields, String) -> T): List<T> {
        val items = array(key)
        val holder = JSONObject()
        return List(items.length()) { i ->
            holder.put(i.toString(), items.get(i))
            read(Fields(holder, at(key), error), i.toString())
        }
    }

    fun strings(key: String) = list(key) { f, k -> f.string(k) }

    fun doubles(key: String) = list(key) { f, k -> f.double(k) }

    fun ints(key: String) = list(key) { f, k -> f.int(k) }

    fun objects(key: String) = list(key) { f, k -> f.fields(k) }

    /** Object `key` as a map whose values are read by `read`. */
    fun <T> map(key: String, read: (Fields, String) -> T): Map<String, T> {
        val f = fields(key)
        return f.keys().associateWith { read(f, it) }
    }

    fun keys(): List<String> = obj.keys().asSequence().toList()

    fun plainObject(key: String): Map<String, Any?> {
        val f = fields(key)
        return f.keys().associateWith { plain(f.obj.get(it)) }
    }

    private companion object {
        fun asDouble(v: Any): Double? = if (v is Number) v.toDouble() else null

        /** An integer, as Python's schema reads one: whole numbers, also written as `60.0`. */
        fun asLong(v: Any): Long? = when (v) {
            is Int -> v.toLong()
            is Long -> v
            is Double -> if (v == Math.rint(v) && kotlin.math.abs(v) < 9.0e15) v.toLong() else null
            else -> null
        }
    }
}
