"""Where the stack runs. ``base`` holds the seam (``Platform``); each platform is a
subpackage (``local`` today; ``docker`` and ``kind`` plug in beside it)."""
