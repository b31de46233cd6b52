#!/bin/sh
. /srv/api/env
log info "api $(cat /opt/common/VERSION) listening on :${PORT} (${FLAVOR})"
exec busybox nc -ll -p "${PORT}" -e /bin/sh /srv/api/handler.sh
