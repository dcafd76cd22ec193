"""The ``ecrpy`` command line: one module per command, errors handled once in ``main``."""
