#!/bin/sh
# Not part of the image: .dockerignore drops every test/ folder.
busybox wget -qO- "http://127.0.0.1:${PORT:-8080}/" | busybox grep -qx ok
