package org.mpkit.core

import org.json.JSONObject

/** The protocol, manifest and pipeline constants this core really uses, for the cross-language check. */
fun constants(): JSONObject = json(
    mapOf(
        "protocol_version" to Protocol.VERSION,
        "app_package" to Protocol.APP_PACKAGE,
        "bench_activity" to Protocol.BENCH_ACTIVITY,
        "results_dir" to Protocol.RESULTS_DIR,
        "deployed_bundles" to Protocol.DEPLOYED_BUNDLES,
        "max_result_bytes" to Protocol.MAX_RESULT_BYTES,
        "delegates" to Protocol.DELEGATES,
        "driving_modes" to Protocol.DRIVING_MODES,
        "extras" to BenchRequest.EXTRAS.map {
            mapOf(
                "name" to it.name,
                "type" to it.type.name.lowercase(),
                "default" to it.default,
                "min" to it.min,
                "pattern" to it.pattern,
                "choices" to it.choices
            )
        },
        "result_keys" to BenchResult.KEYS,
        "result_optional_keys" to BenchResult.OPTIONAL_KEYS,
        "times_keys" to BenchResult.TIMES_KEYS,
        "sustained_keys" to BenchResult.SUSTAINED_KEYS,
        "statuses" to RunStatus.entries.map { it.json },
        "budget_ms" to listOf(FrameStats.BUDGET_30_MS, FrameStats.BUDGET_60_MS),
        "schema_version" to ModelBundle.SCHEMA_VERSION,
        "manifest" to ModelBundle.MANIFEST,
        "max_manifest_bytes" to ModelBundle.MAX_MANIFEST_BYTES,
        "max_manifest_depth" to ModelBundle.MAX_MANIFEST_DEPTH,
        "manifest_keys" to Manifest.KEYS,
        "component_keys" to Manifest.COMPONENT_KEYS,
        "helper_keys" to Manifest.HELPER_KEYS,
        "tensor_keys" to Manifest.TENSOR_KEYS,
        "backends" to ModelBundle.BACKENDS,
        "backend_delegates" to ModelBundle.BACKEND_DELEGATES,
        "required_components" to ModelBundle.REQUIRED_COMPONENTS,
        "audio_stage" to ModelBundle.AUDIO_STAGE,
        "speech_fps" to Benchmark.SPEECH_FPS,
        "required_helpers" to ModelBundle.REQUIRED_HELPERS,
        "crop_scale" to FaceCrop.SCALE,
        "crop_lift" to FaceCrop.LIFT,
        "facial_indices" to FacialKeypoints.INDICES.toList(),
        "facial_mask_sigma" to FacialKeypoints.MASK_SIGMA.toDouble(),
        "segmenter_size" to Segmenter.SIZE
    )
) as JSONObject

/** Prints [constants] as JSON (`java -cp core.jar:... org.mpkit.core.ConstantsKt`). */
fun main() {
    println(constants().toString(2))
}
