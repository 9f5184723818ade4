package org.mpkit.core

import java.nio.file.Files
import java.nio.file.LinkOption
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import java.nio.file.attribute.BasicFileAttributes
import java.security.MessageDigest

/**
 * A bundle folder: component graphs, helper models, the model's pose bank and manifest.json.
 * Mirrors python_tools/mpkit/export/bundle.py (`read_manifest`, `verify`, `pose_bank`,
 * `name_problem`).
 */
object ModelBundle {
    const val SCHEMA_VERSION = 4

    /** What each schema version brought (an older bundle is refused, naming it, with the fix). */
    val SCHEMA_CHANGES = mapOf(
        2 to "per-delegate validation (validation per host check and `delegates`)",
        3 to "the pose bank in the bundle (the `pose_bank` helper)",
        4 to "audio components and their front end's settings (`audio_features`)"
    )

    /** The stage of a component that drives the frame stage from speech. */
    const val AUDIO_STAGE = "audio"

    /** The helper role (and name) of the model's pose bank, read as JSON. */
    const val POSE_BANK = "pose_bank"
    const val MAX_POSE_BANK_BYTES = 1 shl 16 // a real bank is ~1 kB
    const val MANIFEST = "manifest.json"
    const val MAX_MANIFEST_BYTES = 1 shl 20
    const val MAX_MANIFEST_DEPTH = 32

    /** Backend name to the runtime that loads its graphs (mpkit.export.backends). */
    val BACKENDS = linkedMapOf(
        "executorch-xnnpack" to "executorch",
        "executorch-vulkan" to "executorch",
        "executorch-qnn" to "executorch",
        "tflite" to "litert"
    )

    /**
     * The delegates each backend's graphs can run with; the first is the default. A bundle
     * runs only with those it was validated for ([Manifest.delegate]).
     */
    val BACKEND_DELEGATES = linkedMapOf(
        "executorch-xnnpack" to listOf("xnnpack"),
        "executorch-vulkan" to listOf("vulkan"),
        "executorch-qnn" to listOf("qnn"),
        "tflite" to listOf("cpu", "gpu", "nnapi")
    )

    /** The components the avatar pipeline runs, with their stage. */
    val REQUIRED_COMPONENTS = linkedMapOf(
        "keypoints" to "frame",
        "dense_motion" to "frame",
        "synthesis" to "frame",
        "multiview" to "source"
    )

    /** Helper roles the pipeline runs (face tracking and the source photo's foreground). */
    val REQUIRED_HELPERS = listOf("face_detector", "face_mesh", "segmenter")

    /** Why `name` is not a plain file name that stays inside its folder (null if it is). */
    fun nameProblem(name: String): String? {
        val parts = name.replace('\\', '/').split('/')
        return when {
            name.isEmpty() -> "it is empty"
            '\u0000' in name -> "it contains a NUL byte"
            name.any { it.code < 32 || it.code == 127 } -> "it contains a control character"
            name.startsWith("/") || name.startsWith("\\") -> "it is an absolute path"
            ".." in parts -> "it climbs out of the bundle folder ('..')"
            parts.size > 1 -> "it names a subfolder ('/' or '\\')"
            name == "." -> "it names the bundle folder itself"
            name.toByteArray(Charsets.UTF_8).size > 255 -> "it is longer than 255 bytes"
            else -> null
        }
    }

    /** The bundle's manifest, checked: size, UTF-8, JSON, nesting, schema version and schema. */
    fun read(bundle: Path): Manifest {
        val path = bundle.resolve(MANIFEST)
        if (!Files.isDirectory(
                bundle
            )
        ) {
            throw BundleException("$bundle is not a folder (not a bundle)")
        }
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            throw BundleException("$bundle: no $MANIFEST (not a bundle)")
        }
        val size = regularFile(path, MANIFEST).size()
        if (size > MAX_MANIFEST_BYTES) {
            throw BundleException(
                "$path: $size bytes, over the $MAX_MANIFEST_BYTES byte limit for a manifest " +
                    "(not an mpkit manifest)"
            )
        }
        return Manifest.parse(Files.readAllBytes(path), path.toString())
    }

    /**
     * The manifest, after checking that each listed file is a regular file inside the bundle,
     * named once, with the listed size and sha256, and that its pose bank is one.
     */
    fun verify(bundle: Path): Manifest {
        val manifest = read(bundle)
        val seen = HashSet<String>()
        for (file in manifest.files) {
            if (!seen.add(
                    file
                )
            ) {
                throw BundleException("$bundle: $file is listed twice in $MANIFEST")
            }
        }
        val entries = manifest.components.map { Triple(it.file, it.bytes, it.sha256) } +
            manifest.helpers.map { Triple(it.file, it.bytes, it.sha256) }
        for ((file, bytes, sha) in entries) {
            val path = bundle.resolve(file)
            if (regularFile(path, file).size() != bytes || sha256(path) != sha) {
                throw mismatch(bundle, file)
            }
        }
        poseBank(bundle, manifest)
        return manifest
    }

    /**
     * The pose bank the bundle carries (the source stage's multiview poses: the model's bank
     * when it was exported), parsed for the model's views from the very bytes whose size and
     * sha256 were checked against the manifest.
     */
    fun poseBank(bundle: Path, manifest: Manifest): PoseBank {
        val entry = manifest.helper(POSE_BANK) ?: throw BundleException(
            "$bundle: $MANIFEST lists no '$POSE_BANK' helper (the model's pose bank): " +
                "re-export the bundle"
        )
        val path = bundle.resolve(entry.file)
        val size = regularFile(path, entry.file).size()
        if (size > MAX_POSE_BANK_BYTES) {
            throw BundleException(
                "$bundle: ${entry.file}: $size bytes, over the $MAX_POSE_BANK_BYTES byte limit " +
                    "for a pose bank: re-export the bundle"
            )
        }
        val data = Files.readAllBytes(path)
        if (data.size.toLong() != entry.bytes || sha256(data) != entry.sha256) {
            throw mismatch(bundle, entry.file)
        }
        val json = parseJsonObject(
            data,
            "$bundle: ${entry.file}",
            "a pose bank",
            MAX_POSE_BANK_BYTES,
            MAX_MANIFEST_DEPTH,
            ::BundleException
        )
        return PoseBank.parse(json, manifest.views)
    }

    private fun mismatch(bundle: Path, file: String) =
        BundleException("$bundle: $file does not match its sha256 in $MANIFEST")

    fun sha256(path: Path): String {
        val digest = MessageDigest.getInstance("SHA-256")
        Files.newInputStream(path).use { input ->
            val buffer = ByteArray(1 shl 16)
            while (true) {
                val n = input.read(buffer)
                if (n < 0) break
                digest.update(buffer, 0, n)
            }
        }
        return hex(digest.digest())
    }

    fun sha256(data: ByteArray): String = hex(MessageDigest.getInstance("SHA-256").digest(data))

    private fun hex(digest: ByteArray) = digest.joinToString("") { "%02x".format(it) }

    /** lstat of `path`, which must be a regular file (a symlink is refused, not followed). */
    private fun regularFile(path: Path, what: String): BasicFileAttributes {
        val attrs = try {
            Files.readAttributes(path, BasicFileAttributes::class.java, LinkOption.NOFOLLOW_LINKS)
        } catch (_: NoSuchFileException) {
            throw BundleException("${path.parent}: $what is missing")
        }
        if (attrs.isSymbolicLink) {
            throw BundleException(
                "${path.parent}: $what is a symlink; a bundle holds only regular files: copy " +
                    "the file in"
            )
        }
        if (!attrs.isRegularFile) {
            throw BundleException(
                "${path.parent}: $what is not a regular file"
            )
        }
        return attrs
    }
}
