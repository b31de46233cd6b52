"""The lockfile, ``bakec.lock``: every external input of a build pinned to what it is now.

:mod:`.model` reads and writes the file, :mod:`.collect` lists what a build needs
(base images per platform, git contexts, ``ADD <url>`` sources, remote definitions)
without hashing any context, :mod:`.pin` asks the registries, git remotes and web
servers what those are now, :mod:`.drift` compares, and :mod:`.resolve` makes a build
use the pins.
"""

from bakec.lock.model import LOCK_NAME, ImagePin, Lockfile, LockfileError

__all__ = ["LOCK_NAME", "ImagePin", "Lockfile", "LockfileError"]
