"""Software bills of materials of built images (SPDX 2.3), generated in-process.

``layerscan`` reads each layer once (cached by its diffID) for its files' checksums and the
package metadata it holds; ``catalogers`` parse that metadata (dpkg, apk, Python, npm, Go
build info); ``sbom`` merges the layers of an image and writes the SPDX document and the
in-toto statement BuildKit attaches.
"""
