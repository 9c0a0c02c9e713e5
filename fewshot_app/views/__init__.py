"""The pages' bodies: each module has a ``page()`` function that its file in ``pages/`` runs."""
