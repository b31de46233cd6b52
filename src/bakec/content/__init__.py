"""Content: bakec's blob store, layer tars as Go's ``archive/tar`` writes them, diff and apply."""
