"""Repository defaults for running this repository's own tests.

The plugin itself (``harness.pytest_plugin``) is loaded through its ``pytest11``
entry point, exactly as in a user's suite.
"""
