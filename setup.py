"""Copies the data folders the code reads (`models/`, `quantization/` at the repository root)
into the wheel as mpkit/_data/, where an installed mpkit finds them (mpkit.datadir)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("models", "quantization")


class BuildPyWithData(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's folders
            return
        for name in DATA:
            target = Path(self.build_lib) / "mpkit" / "_data" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(Path(__file__).parent / name, target,
                            ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildPyWithData})
