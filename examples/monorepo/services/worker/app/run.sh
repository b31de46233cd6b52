#!/bin/sh
. /srv/worker/env
log info "worker started (${FLAVOR})"
while :; do
    for job in /srv/worker/queue/*.job; do
        [ -e "$job" ] || continue
        log info "processing $(busybox basename "$job")"
        busybox rm -f "$job"
    done
    sleep 1
done
