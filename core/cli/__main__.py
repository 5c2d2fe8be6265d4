"""`python -m persona.core.cli`: the `persona` command (the nightly timer and tests run it so)."""

import sys

from persona.core.cli import main

if __name__ == "__main__":  # importing this module (e.g. to check imports) runs nothing
    sys.exit(main())
