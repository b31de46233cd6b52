"""Progress: typed events (:mod:`.events`), the :class:`Progress` that numbers and fans them out
(:mod:`.reporter`), and their renderers (:mod:`.render`: plain, quiet, bakec-json, rawjson —
BuildKit's ``SolveStatus``, :mod:`.solvestatus`; :mod:`.tty`), which show failed steps as
:mod:`.failure` lays them out."""
