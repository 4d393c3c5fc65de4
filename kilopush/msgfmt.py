"""Compiles a gettext catalog (.po) into its .mo without GNU gettext: `python -m kilopush.msgfmt PO MO`.

`make install` uses GNU msgfmt (what Django's compilemessages runs) when it is there, and this otherwise, so a
fresh clone runs without root. polib writes the same binary format.
"""

import sys

import polib


def compile_catalog(po_path, mo_path):
    catalog = polib.pofile(str(po_path))
    catalog.save_as_mofile(str(mo_path))


if __name__ == "__main__":
    compile_catalog(sys.argv[1], sys.argv[2])
