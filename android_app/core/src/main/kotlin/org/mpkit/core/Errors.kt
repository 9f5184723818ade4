package org.mpkit.core

/** A problem the user can fix; the message names it and the fix. */
open class MpkitException(message: String) : Exception(message)

/** A bundle or its manifest is unusable (schema, names, hashes). */
class BundleException(message: String) : MpkitException(message)

/** A benchmark request (intent extras) or result does not follow the protocol. */
class ProtocolException(message: String) : MpkitException(message)

/** A photo, video frame or camera image cannot be read as the app needs it. */
class MediaException(message: String) : MpkitException(message)
