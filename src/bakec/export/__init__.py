"""Exporters, one module each (``oci``, ``docker``, ``local``, ``tar``, ``image_output``), chosen by
output type in ``exporters``; ``image`` is their shared model, ``request`` what each is given."""

from bakec.export.image import Descriptor, ExportOptions, Image, commit_images

__all__ = ["Descriptor", "ExportOptions", "Image", "Platform", "commit_images"]
