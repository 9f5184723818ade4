package org.mpkit.core

import org.json.JSONObject

/** One input or output tensor of a component. */
data class TensorSpec(
    val name: String,
    val shape: List<Int>,
    val dtype: String,
    val range: String
) {
    internal fun toJson(): JSONObject = JSONObject()
        .put("name", name).put("shape", json(shape)).put("dtype", dtype).put("range", range)

    internal companion object {
        val KEYS = listOf("name", "shape", "dtype", "range")

        fun read(f: Fields) = f.run {
            only(KEYS)
            TensorSpec(string("name"), ints("shape"), string("dtype"), string("range"))
        }
    }
}

/** A model component: a graph file the runtime loads, run once (`source`) or per frame. */
data class ComponentEntry(
    val name: String,
    val file: String,
    val sha256: String,
    val bytes: Long,
    val stage: String,
    val precision: String,
    val inputs: List<TensorSpec>,
    val outputs: List<TensorSpec>,
    val layout: String = DEFAULT_LAYOUT,
    /** Per host check (cpu, gpu_fp16, gpu_fp32, xnnpack): worst SQNR (dB) of each output. */
    val validation: Map<String, Map<String, Double>> = emptyMap()
) {
    internal fun toJson(): JSONObject = JSONObject()
        .put("name", name).put("file", file).put("sha256", sha256).put("bytes", bytes)
        .put("stage", stage).put("precision", precision)
        .put("inputs", json(inputs.map { plain(it.toJson()) }))
        .put("outputs", json(outputs.map { plain(it.toJson()) }))
        .put("layout", layout).put("validation", json(validation))

    internal companion object {
        const val DEFAULT_LAYOUT = "NCHW float32; images RGB in [0,1]; keypoints (x,y) in [-1,1]"
        val KEYS = FILE_KEYS + listOf(
            "stage",
            "precision",
            "inputs",
            "outputs",
            "layout",
            "validation"
        )

        fun read(f: Fields) = f.run {
            only(KEYS)
            ComponentEntry(
                name = string("name"),
                file = fileName(this),
                sha256 = string("sha256"),
                bytes = long("bytes"),
                stage = string("stage"),
                precision = string("precision"),
                inputs = objects("inputs").map(TensorSpec::read),
                outputs = objects("outputs").map(TensorSpec::read),
                layout = if (has("layout")) string("layout") else DEFAULT_LAYOUT,
                validation = if (has("validation")) {
                    map("validation") { f, check -> f.map(check, Fields::double) }
                } else {
                    emptyMap()
                }
            )
        }
    }
}

/** A helper file: a face model the pipeline runs, or a sample photo / clip. */
data class HelperEntry(
    val name: String,
    val file: String,
    val sha256: String,
    val bytes: Long,
    val role: String,
    val runtime: String = "litert"
) {
    internal fun toJson(): JSONObject = JSONObject()
        .put("name", name).put("file", file).put("sha256", sha256).put("bytes", bytes)
        .put("role", role).put("runtime", runtime)

    internal companion object {
        val KEYS = FILE_KEYS + listOf("role", "runtime")

        fun read(f: Fields) = f.run {
            only(KEYS)
            HelperEntry(
                string("name"),
                fileName(this),
                string("sha256"),
                long("bytes"),
                string("role"),
                if (has("runtime")) string("runtime") else "litert"
            )
        }
    }
}

private val FILE_KEYS = listOf("name", "file", "sha256", "bytes")

private fun fileName(f: Fields): String {
    val name = f.string("file")
    val why = ModelBundle.nameProblem(name) ?: "it is the manifest itself".takeIf {
        name == ModelBundle.MANIFEST
    }
    if (why != null) f.fail("file", "'$name' is not a plain file name in the bundle: $why")
    return name
}

/**
 * A bundle's manifest.json, schema version [ModelBundle.SCHEMA_VERSION], as
 * python_tools/mpkit/export/bundle.py writes it. Beyond that schema, the app refuses what it
 * cannot run: an unknown backend, a runtime that is not the backend's, a missing component.
 */
data class Manifest(
    val schemaVersion: Int,
    val modelId: String,
    val backend: String,
    val runtime: String,
    /** The delegates the bundle was validated for, the default first. */
    val delegates: List<String>,
    val precision: String,
    val recipe: String,
    val warp: String,
    val trained: Boolean,
    val checkpointSha256: String?,
    val frameGmacs: Double,
    val paramsM: Double,
    val components: List<ComponentEntry>,
    val helpers: List<HelperEntry>,
    val validation: Map<String, Any?>,
    val tools: Map<String, String>,
    val createdUtc: String,
    /** The audio front end's settings, with an audio-stage component; null without one. */
    val audioFeatures: AudioFeatureSpec?,
    /** The audio driver exported, with an audio-stage component; null without one. */
    val audioCheckpointSha256: String?
) {
    /** Every file the bundle holds besides the manifest, components first. */
    val files: List<String> get() = components.map { it.file } + helpers.map { it.file }

    fun component(name: String): ComponentEntry = components.first { it.name == name }

    fun helper(role: String): HelperEntry? = helpers.firstOrNull { it.role == role }

    /** The model's T: the batch of the multiview component's `deformations` input. */
    val views: Int get() = deformations()!!.shape[0]

    private fun deformations() =
        components.firstOrNull { it.name == "multiview" }?.inputs?.firstOrNull {
            it.name == "deformations"
        }

    /**
     * The delegate to run with (null: the bundle's default). One the bundle was not validated
     * for is refused, naming the ones it was and, from the manifest, why not that one.
     */
    fun delegate(requested: String? = null): String {
        if (requested == null) return delegates.first()
        if (requested !in delegates) {
            val claims = validation["delegates"] as? Map<*, *>
            val why = (claims?.get(requested) as? Map<*, *>)?.get("why") as? String
            throw BundleException(
                "this $modelId $backend bundle is not validated for delegate '$requested'" +
                    (why?.let { " ($it)" } ?: "") + "; it is validated for: " +
                    "${delegates.joinToString()}: run it with one of those, or re-export it " +
                    "where $requested runs"
            )
        }
        return requested
    }

    fun toJson(): JSONObject = JSONObject()
        .put("schema_version", schemaVersion).put("model_id", modelId).put("backend", backend)
        .put("runtime", runtime).put("delegates", json(delegates))
        .put("precision", precision).put("recipe", recipe)
        .put("warp", warp).put("trained", trained).put("checkpoint_sha256", json(checkpointSha256))
        .put("frame_gmacs", frameGmacs).put("params_m", paramsM)
        .put("components", json(components.map { plain(it.toJson()) }))
        .put("helpers", json(helpers.map { plain(it.toJson()) }))
        .put("validation", json(validation)).put("tools", json(tools))
        .put("created_utc", createdUtc)
        .put("audio_features", audioFeatures?.toJson() ?: JSONObject.NULL)
        .put("audio_checkpoint_sha256", json(audioCheckpointSha256))

    companion object {
        val KEYS = listOf(
            "schema_version", "model_id", "backend", "runtime", "delegates", "precision", "recipe",
            "warp", "trained", "checkpoint_sha256", "frame_gmacs", "params_m", "components",
            "helpers", "validation", "tools", "created_utc", "audio_features",
            "audio_checkpoint_sha256"
        )
        internal val COMPONENT_KEYS get() = ComponentEntry.KEYS
        internal val HELPER_KEYS get() = HelperEntry.KEYS
        internal val TENSOR_KEYS get() = TensorSpec.KEYS

        /** The manifest in `data` (read from `source`, which errors name), fully checked. */
        fun parse(data: ByteArray, source: String): Manifest {
            val obj = parseJsonObject(
                data,
                source,
                "an mpkit manifest",
                ModelBundle.MAX_MANIFEST_BYTES,
                ModelBundle.MAX_MANIFEST_DEPTH,
                ::BundleException
            )
            val version = if (obj.has("schema_version")) obj.get("schema_version") else null
            if (version !is Int || version != ModelBundle.SCHEMA_VERSION) {
                val fix = if (version is Int && version < ModelBundle.SCHEMA_VERSION) {
                    val change = ModelBundle.SCHEMA_CHANGES.getValue(maxOf(version + 1, 2))
                    "it predates $change: re-export the bundle with this mpkit (`mpkit export`)"
                } else {
                    "use an app that matches the mpkit that wrote it"
                }
                throw BundleException(
                    "$source: schema version ${version ?: "(none)"} is not " +
                        "${ModelBundle.SCHEMA_VERSION}; $fix"
                )
            }
            val manifest = read(Fields(obj, "", { BundleException("$source: $it") }))
            manifest.checkRunnable(source)
            return manifest
        }

        private fun read(f: Fields) = f.run {
            only(KEYS)
            Manifest(
                schemaVersion = int("schema_version"),
                modelId = string("model_id"),
                backend = string("backend"),
                runtime = string("runtime"),
                delegates = strings("delegates"),
                precision = string("precision"),
                recipe = string("recipe"),
                warp = string("warp"),
                trained = bool("trained"),
                checkpointSha256 = stringOrNull("checkpoint_sha256"),
                frameGmacs = double("frame_gmacs"),
                paramsM = double("params_m"),
                components = objects("components").map(ComponentEntry::read),
                helpers = objects("helpers").map(HelperEntry::read),
                validation = plainObject("validation"),
                tools = map("tools", Fields::string),
                createdUtc = string("created_utc"),
                audioFeatures = if (isNull("audio_features")) {
                    null
                } else {
                    AudioFeatureSpec.parse(json(plainObject("audio_features")) as JSONObject)
                },
                audioCheckpointSha256 = stringOrNull("audio_checkpoint_sha256")
            )
        }
    }

    private fun checkRunnable(source: String) {
        val known = ModelBundle.BACKENDS[backend] ?: throw BundleException(
            "$source: unknown backend '$backend'; this app runs ${ModelBundle.BACKENDS.keys.joinToString()}"
        )
        if (runtime != known) {
            throw BundleException(
                "$source: backend $backend runs on the $known runtime, but the manifest says " +
                    "'$runtime'; re-export the bundle"
            )
        }
        if (delegates.isEmpty() || delegates.toSet().size != delegates.size) {
            throw BundleException(
                "$source: delegates: $delegates: a bundle names each delegate it claims once, " +
                    "and at least one"
            )
        }
        val runs = ModelBundle.BACKEND_DELEGATES.getValue(backend)
        delegates.firstOrNull { it !in runs }?.let {
            throw BundleException(
                "$source: delegates: a $backend bundle cannot claim '$it'; its backend runs " +
                    "${runs.joinToString()}: re-export the bundle"
            )
        }
        for ((name, stage) in ModelBundle.REQUIRED_COMPONENTS) {
            val found = components.filter { it.name == name }
            if (found.isEmpty()) {
                throw BundleException(
                    "$source: no '$name' component; the app needs " +
                        "${ModelBundle.REQUIRED_COMPONENTS.keys.joinToString()}: re-export the bundle"
                )
            }
            if (found.size > 1) throw BundleException("$source: component '$name' is listed twice")
            if (found[0].stage != stage) {
                throw BundleException(
                    "$source: component '$name' is in stage '${found[0].stage}', not '$stage'"
                )
            }
        }
        val roles = ModelBundle.REQUIRED_HELPERS + ModelBundle.POSE_BANK
        for (role in roles) {
            if (helper(role) == null) {
                throw BundleException(
                    "$source: no '$role' helper; the app needs ${roles.joinToString()}: " +
                        "re-export the bundle"
                )
            }
        }
        val audio = components.filter { it.stage == ModelBundle.AUDIO_STAGE }.map { it.name }
        val given = linkedMapOf(
            "audio_features" to (audioFeatures != null),
            "audio_checkpoint_sha256" to (audioCheckpointSha256 != null)
        )
        given.filterValues { !it }.keys.firstOrNull()?.takeIf { audio.isNotEmpty() }?.let {
            throw BundleException(
                "$source: component '${audio[0]}' is in stage '${ModelBundle.AUDIO_STAGE}' but " +
                    "$it is null: re-export the bundle with --audio"
            )
        }
        given.filterValues { it }.keys.firstOrNull()?.takeIf { audio.isEmpty() }?.let {
            throw BundleException(
                "$source: $it is set but no component is in stage '${ModelBundle.AUDIO_STAGE}'"
            )
        }
        val deformations = deformations()
        if (deformations == null || deformations.shape.isEmpty() || deformations.shape[0] < 1) {
            throw BundleException(
                "$source: component 'multiview' has no 'deformations' input with the views on " +
                    "its first axis: re-export the bundle"
            )
        }
    }
}
