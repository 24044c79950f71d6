"""The package's version, defined once: ``autograd_lite.__version__`` and the wheel's metadata
(hatch reads this file) both come from here, and the command's ``--version`` prints it. A
module of its own, at the bottom of the import graph, so that ``cli`` can read it without
importing the package root."""

__version__ = "0.1.0"
