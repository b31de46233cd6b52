"""Exporters, one module each: ``oci``, ``docker``, ``local``, ``tar``; ``image`` is their shared model."""

from bakec.export.image import Descriptor, ExportOptions, Image, commit_images

__all__ = ["Descriptor", "ExportOptions", "Image", "Platform", "commit_images"]
