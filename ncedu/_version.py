"""The version of ncedu, in one place: ``ncedu.__version__`` and the package metadata
(``pyproject.toml`` reads it with setuptools' dynamic ``version``) both come from here.

A release is tagged ``v`` + this version (``v0.2.0``); the chapters' Colab set-up cells install
that tag (``repository.release`` in ``_config.yml``, set by ``scripts/booktools.py set-repository
--release``; ``booktools check`` reports a tag that disagrees with this version).
"""

__version__ = "0.2.0"
