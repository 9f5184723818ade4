"""Typed errors. Library code raises these; the CLI turns them into one line and an exit code."""


class MpkitError(Exception):
    """A domain error the user can fix: bad input, missing asset, unknown name. Exit code 1."""

    exit_code = 1


class UsageError(MpkitError):
    """The command was called wrongly. Exit code 2."""

    exit_code = 2


class DeviceError(MpkitError):
    """A device or adb problem. Exit code 3."""

    exit_code = 3


class AssetError(MpkitError):
    """A test asset or helper model could not be fetched or failed its hash check."""


class MediaError(MpkitError):
    """An image, video or audio file is missing, unreadable or cannot be decoded."""


class NoFaceError(MpkitError):
    """No face was found in an image or video frame."""


class CheckpointError(MpkitError):
    """A checkpoint does not load or does not fit the model."""


class UnknownNameError(MpkitError):
    """A model id, backend or recipe name that is not registered."""


class DependencyError(MpkitError):
    """An optional dependency is not installed."""
