#!/bin/sh
# Entry point of the portal image: the first argument names the process to run (see Dockerfile).
# `check web` / `check listener` answer compose's health checks. Anything else runs as given,
# e.g. `docker compose run --rm web python manage.py seed_demo --host listener`.
set -eu

case "${1:-web}" in
  setup)
    exec python manage.py portal_setup
    ;;
  web)
    # Tune with GUNICORN_CMD_ARGS (e.g. "--workers 4"); gunicorn reads it itself.
    exec gunicorn clinic.wsgi \
      --bind "0.0.0.0:${PORTAL_HTTP_PORT:-8000}" \
      --worker-class gthread --workers 2 --threads 8 \
      --access-logfile - --graceful-timeout 10
    ;;
  listener)
    exec python manage.py dicomlistener
    ;;
  worker)
    exec celery -A clinic worker --loglevel "${LOG_LEVEL:-INFO}"
    ;;
  beat)
    exec celery -A clinic beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule /tmp/celerybeat-schedule
    ;;
  check)
    case "${2:-}" in
      web)
        # Any HTTP answer means the server is up (a 400 only says the Host is not allowed).
        exec python - <<'EOF'
import os, sys, urllib.error, urllib.request
url = f"http://127.0.0.1:{os.environ.get('PORTAL_HTTP_PORT', '8000')}/login/"
try:
    urllib.request.urlopen(url, timeout=5)
except urllib.error.HTTPError:
    pass
except OSError as exc:
    sys.exit(f"web: {exc}")
EOF
        ;;
      listener)
        # A C-ECHO, not a bare TCP connect; a rejection (unknown caller) also proves it is up.
        exec python - <<'EOF'
import logging, os, sys
from pynetdicom import AE
from pynetdicom.sop_class import Verification
logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
ae = AE(ae_title="HEALTHCHECK")
ae.add_requested_context(Verification)
port = int(os.environ.get("DICOM_PORT", "11112"))
assoc = ae.associate("127.0.0.1", port, ae_title=os.environ.get("DICOM_AE_TITLE", "VETPORTAL"))
if assoc.is_established:
    assoc.send_c_echo()
    assoc.release()
elif not assoc.is_rejected:
    sys.exit(f"listener: no association on port {port}")
EOF
        ;;
      *)
        echo "usage: $0 check web|listener" >&2
        exit 2
        ;;
    esac
    ;;
  *)
    exec "$@"
    ;;
esac
