"""What ``pose`` and ``flow`` share without importing each other: the person-box extension of the papers
(``boxes``) and the weights cache with its downloads, checksums and offline errors (``weights_cache``).

Imports neither ``pose``, ``flow`` nor ``tracker``.
"""
