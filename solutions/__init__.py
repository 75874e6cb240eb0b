"""Solutions of the notebooks' graded exercises, apart from the notebooks (see README.md).

One module per notebook, ``nbNN_<topic>.py``, for the answers that are code;
``NN_<notebook>.md`` holds every answer. ``tests/test_solutions.py`` runs the code.
"""
