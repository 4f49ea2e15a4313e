"""TLS failures, said in one line.

A TLS endpoint (``-e ssl:...``, :mod:`.endpoints`) sees handshakes fail for
reasons that are the client's or the certificate's, not the server's: a
client that does not trust the certificate, an expired certificate, a
client that does not speak TLS. They end the connection with a pyOpenSSL
error; the HTTP protocol logs what :func:`tls_failure` makes of it instead
of a traceback.
"""

from __future__ import annotations


def tls_failure(error: BaseException) -> str | None:
    """OpenSSL's reasons for ``error`` (``tlsv1 alert unknown ca``), or None
    if ``error`` is not a TLS error."""
    # pyOpenSSL's errors, recognised without importing it.
    if not type(error).__module__.startswith("OpenSSL"):
        return None
    entries = error.args[0] if error.args and isinstance(error.args[0], list) else []
    reasons = [str(entry[-1]) for entry in entries if isinstance(entry, tuple) and entry[-1]]
    return ", ".join(reasons) or type(error).__name__
