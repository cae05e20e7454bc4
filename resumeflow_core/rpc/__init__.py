"""gRPC glue shared by both services: error mapping, message conversion, server plumbing.

Only servicers, servers and clients import this package; the engine and the store never do.
"""
