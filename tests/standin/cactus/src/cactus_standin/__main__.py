"""`python -m cactus_standin` = the `cactus` command of the TEST STAND-IN."""

from cactus_standin.cli import main

if __name__ == "__main__":
    main()
