"""Typed device errors; all are DeviceError (exit code 3)."""

from mpkit.errors import DeviceError


class NoDevice(DeviceError):
    pass


class MultipleDevices(DeviceError):
    pass


class Unauthorized(DeviceError):
    pass


class Offline(DeviceError):
    pass


class CommandFailed(DeviceError):
    pass


class DeviceTimeout(DeviceError):
    pass


class InstallFailed(DeviceError):
    pass


class StorageFull(DeviceError):
    pass


class LinkLost(DeviceError):
    """The connection to the device dropped mid-operation."""


class OutputTooLarge(DeviceError):
    """The device returned more data than the caller accepts."""
