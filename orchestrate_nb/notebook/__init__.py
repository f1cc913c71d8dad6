"""Notebook integration: ``%%task`` cells, their static analysis, cache and staleness.

Kernel-side and pure: importing this package never imports IPython; the magics module
does that where it is used.
"""
