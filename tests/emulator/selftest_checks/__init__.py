"""The emulator's self-test (tests/emulator/selftest.py runs it), one module per concern.

common holds what the checks share (ENDPOINT, set by the runner, is read as common.ENDPOINT);
runner holds CHECKS, SERIAL_CHECKS, the emulator's start and the output.  README.md ("Layout")
lists the modules.
"""
