"""mpkit: MobilePortrait head avatars from PyTorch to Android phones."""

__version__ = "0.1.0"
