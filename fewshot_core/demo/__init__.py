"""The offline demo, in one package: its generated dataset (``dataset.py``), the words its captions and
descriptions use (``words.py``), its small CLIP (``clip.py``) and the accuracy on the classes that CLIP saw vs
held out (``class_groups.py``). Imports nothing heavy: each module is imported where it is used."""
