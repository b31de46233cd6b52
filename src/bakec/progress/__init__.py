"""Progress: typed events (:mod:`.events`), the :class:`Progress` that numbers and fans them out
(:mod:`.reporter`), and their renderers (:mod:`.render`: plain, rawjson, quiet; :mod:`.tty`)."""
