"""The ``ksched`` command line."""
