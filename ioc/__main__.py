"""``python -m ioc``: the same as the ``ioc`` command."""

from ioc.cli import main

if __name__ == "__main__":
    main()
