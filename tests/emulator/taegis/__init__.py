"""The taegis-cloudtrail test emulator's extensions of moto 5.2.5, one module per concern.

taegis_moto.py (next to this package) is the entry point: it imports the modules, calls
install.install() once (every monkeypatch, in its fixed order) and serves with server.main().
Importing a module patches nothing, except s3_rules (moto's S3Backend.create_bucket, row v);
modules keep moto's original methods (`_orig_*`) when imported, so install() runs after every
module is imported.  README.md ("Layout") lists the modules.
"""
