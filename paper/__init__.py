"""The ksched paper: ``python3 -m paper`` rebuilds it from a results directory."""
