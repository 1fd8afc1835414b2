"""Cactus TEST STAND-IN: takes Cactus's command line and runs a tiny real Toil workflow.

Not the Cactus aligner. See the package README.
"""

__version__ = "3.2.1"
VERSION_STRING = f"cactus {__version__} (test stand-in)"
