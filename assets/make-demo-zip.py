#!/usr/bin/env python3
"""Build the demo Lambda zip: python3 assets/make-demo-zip.py OUT.zip

The zip holds one entry, `bootstrap` (assets/lambda/bootstrap, a demo stand-in
for the vendor's custom-runtime binary), with unix mode 0755 recorded so Lambda
can execute it. The timestamp is fixed, so the same input always gives a
byte-identical zip (and so the same content-addressed S3 key).
"""
import pathlib
import sys
import zipfile

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
MODE = 0o100755  # regular file, rwxr-xr-x


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: make-demo-zip.py OUT.zip", file=sys.stderr)
        return 2
    source = pathlib.Path(__file__).resolve().parent / "lambda" / "bootstrap"
    info = zipfile.ZipInfo("bootstrap", date_time=FIXED_DATE_TIME)
    info.create_system = 3  # unix, so external_attr carries the mode
    info.external_attr = MODE << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(sys.argv[1], "w") as archive:
        archive.writestr(info, source.read_bytes(), compresslevel=9)
    return 0


if __name__ == "__main__":
    sys.exit(main())
