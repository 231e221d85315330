"""gRPC mocks from ``.proto`` files compiled at run time (see ``service.GrpcService``).

Importing this package loads nothing of the gRPC stack: grpclib, protobuf and grpcio-tools are
imported inside the functions of its modules, so a server without gRPC never pays for them.
"""
