"""Progress: the events a build emits and their renderers (plain, tty, rawjson, quiet)."""
