"""Access control for the registry: who may pull, push and delete where.

Three ways in, chosen by the config's ``auth`` section as in distribution:

- none (the default): every client may do everything, nothing here runs;
- ``auth.htpasswd``: HTTP Basic on every request, users from an htpasswd file;
- ``auth.token``: Docker token authentication.  Clients fetch a JWT from the
  realm and present it as ``Authorization: Bearer``.  The realm can be an
  external issuer whose certificates or public keys the registry trusts, or
  Dockyard's own token endpoint (``dockyard.auth.issuer``), served by the
  registry itself at ``/auth/token``.

The modules, from the bottom up: ``keys`` (signing keys, trusted keys and
certificates), ``jwt`` (signing and verifying tokens), ``scopes`` (what a
request needs, what a token grants), ``rules`` (what the config allows whom),
``passwords`` (htpasswd files), ``throttle`` (failed logins), ``issuer`` (the
token endpoint), ``middleware`` (the check on every request), ``setup`` (all
of it from the config), ``tls`` and ``commands`` (the CLI's ``user``,
``robot`` and ``certs``).

This package's ``__init__`` imports nothing, so that ``registry.config`` can
use ``rules`` without an import cycle.
"""
