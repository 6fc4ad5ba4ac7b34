"""moto's server on 127.0.0.1, one request at a time, for the tests and the local stack.

  moto_server.py PORT [--exit-on-stdin-close] [--cloudformation] [--host ADDRESS]

PORT 0 takes a free port (werkzeug prints it). One request at a time: moto's DynamoDB checks a
write's condition and then writes, without a lock, so two threads could both pass
`version = :v`. DynamoDB makes each conditional write atomic; serving requests one by one gives
moto the same guarantee. With --exit-on-stdin-close the server stops when its parent closes
stdin, so a killed test leaves nothing behind. With --cloudformation, CloudFormation also
applies the SAM transform and creates the resource types moto lacks (moto_cloudformation.py).
With --host it listens on ADDRESS instead (sam_local.py: the Docker bridge's gateway, where
`sam local`'s containers reach the host).
"""
import os
import sys
import threading

if "--exit-on-stdin-close" in sys.argv:
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()

from moto.moto_server.threaded_moto_server import MotoRequestHandler  # noqa: E402
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: E402
from werkzeug.serving import run_simple  # noqa: E402

if "--cloudformation" in sys.argv:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import moto_cloudformation  # noqa: E402

    moto_cloudformation.install()

host = sys.argv[sys.argv.index("--host") + 1] if "--host" in sys.argv else "127.0.0.1"
run_simple(host, int(sys.argv[1]), DomainDispatcherApplication(create_backend_app),
           threaded=False, request_handler=MotoRequestHandler)
