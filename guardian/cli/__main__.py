"""`python -m guardian.cli`: the `guardian` command line, as the console script runs it."""

from guardian.cli import main

if __name__ == "__main__":
    main()
