"""Local AWS emulator: a patched moto server and a PostgreSQL 15 server on loopback.

Use `scripts/emulator start|stop|status|env`; see tools/emulator/README.md.
"""
