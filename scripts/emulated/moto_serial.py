"""moto's server, answering one request at a time.

DynamoDB makes each conditional write atomic: the condition is checked and the write applied
as one step. moto's own `moto_server` serves requests on threads with no locking in its
DynamoDB backend, so two concurrent `UpdateItem ... ConditionExpression stock >= :q` calls
can both pass their checks and oversell; our contract suite caught exactly that (21 of 50
concurrent SUBTRACTs "succeeded" against 20 units). Serving requests one at a time restores
DynamoDB's atomicity per request, while the clients under test stay fully concurrent.

Usage: moto_serial.py HOST PORT
"""

import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, use_reloader=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
