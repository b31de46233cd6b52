"""File operations on a mounted root (COPY, ADD, WORKDIR, heredocs), as BuildKit's file op does them."""
