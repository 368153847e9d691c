"""Training and evaluation. ``metrics`` is numpy-only; ``loop`` needs torch (the ``train`` extra)."""
