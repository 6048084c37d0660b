"""``python -m numbdx``: the ``numbdx`` command line (see :mod:`numbdx._cli`)."""

from numbdx._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
