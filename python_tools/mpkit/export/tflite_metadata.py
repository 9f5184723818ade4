"""TFLite model metadata (tflite-support's writers): every input and output named and described,
images with their normalisation, so Android tooling shows what each tensor is."""

from __future__ import annotations

from pathlib import Path

from mpkit.media.files import atomic_output
from mpkit.models.portrait import Component, TensorSpec


def _describe(spec: TensorSpec) -> str:
    return f"{spec.dtype} {list(spec.shape)}: {spec.range}" if spec.range else spec.dtype


def _tensor_md(spec: TensorSpec, is_input: bool):
    from tensorflow_lite_support.metadata import metadata_schema_py_generated as fb
    from tensorflow_lite_support.metadata import schema_py_generated as schema
    from tensorflow_lite_support.metadata.python.metadata_writers import metadata_info

    if is_input and "RGB" in spec.range:
        # float in [0,1] = uint8 / 255: mean 0, std 255 in the metadata's convention
        return metadata_info.InputImageTensorMd(
            name=spec.name, description=_describe(spec) + " (NCHW)", norm_mean=[0.0],
            norm_std=[255.0], color_space_type=fb.ColorSpaceType.RGB,
            tensor_type=schema.TensorType.FLOAT32)
    return metadata_info.TensorMd(name=spec.name, description=_describe(spec))


def write_metadata(path: Path, component: Component, model_id: str, version: str) -> None:
    """Adds metadata to the .tflite at `path` in place (atomically)."""
    from tensorflow_lite_support.metadata.python.metadata_writers import (
        metadata_info, metadata_writer,
    )

    inputs, outputs = component.io_spec()
    general = metadata_info.GeneralMd(
        name=f"{model_id} {component.name}", version=version,
        description=f"MobilePortrait {component.name} ({component.stage} stage), exported by mpkit",
        author="mpkit")
    writer = metadata_writer.MetadataWriter.create_from_metadata_info(
        bytearray(path.read_bytes()), general_md=general,
        input_md=[_tensor_md(s, True) for s in inputs],
        output_md=[_tensor_md(s, False) for s in outputs])
    with atomic_output(path) as tmp:
        tmp.write_bytes(writer.populate())


def read_metadata(path: Path) -> dict:
    """The metadata as JSON-like dict (for checks and `mpkit check`)."""
    import json

    from tensorflow_lite_support.metadata.python import metadata

    return json.loads(metadata.MetadataDisplayer.with_model_file(str(path)).get_metadata_json())
