"""Installs the repository's folders under one `persona` package.

The top level of the repository is fixed (core/, privacy/, desktop/, assets/, packaging/);
installed, they become persona.core, persona.privacy, ... so site-packages gains no generic
top-level names. Everything else about the project is in pyproject.toml.
"""

from setuptools import find_namespace_packages, find_packages, setup

CODE = ("core", "privacy", "desktop")
DATA = ("assets", "packaging")  # package data only, listed in pyproject.toml's package-data

packages = ["persona." + p for p in find_packages(include=[f"{c}*" for c in CODE])]
# Their subfolders too (icons/, systemd/, ...): setuptools treats every folder as a package,
# and warns about any it is not told of. The screenshots are the README's, not the program's.
packages += ["persona." + p for p in find_namespace_packages(include=[f"{d}*" for d in DATA],
                                                            exclude=["assets.screenshots"])]
setup(packages=packages,
      package_dir={f"persona.{top}": top for top in CODE + DATA})
