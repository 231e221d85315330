"""TLS for every listener: a local CA, server and client SSL contexts, plain-or-TLS sniffing.

Nothing here is imported unless a listener has TLS configured or ``mockforge ca`` runs: the
certificate library (``cryptography``) costs start-up time and memory that a plain server
must not pay (tests/test_tls_unit.py checks ``sys.modules``). Handshakes are done by the
standard ``ssl`` module (OpenSSL); per-request work is unchanged, the client certificate is
read once per connection.
"""
