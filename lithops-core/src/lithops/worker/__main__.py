"""``python -m lithops.worker``: a worker process speaking the wire format on stdin/stdout."""

from lithops.worker.serve import serve_stdio

if __name__ == "__main__":
    serve_stdio()
