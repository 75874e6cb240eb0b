"""Teaching the series for credit: assignments built from its notebooks (``make assignments``).

* :mod:`course.assignments` - which code each assignment grades, its points, hints, the
  answer fingerprints and the typical mistakes the tests submit
* :mod:`course.public_checks` - the checks a student runs (``grader.check``), in the student
  bundle; they say what is wrong, not only that something is
* :mod:`course.hidden_checks` - the autograder's further cases, against the reference code
* :mod:`course.build` - ``python -m course.build``: the student, autograder and instructor
  bundles in ``dist/``, built with otter-grader
* :mod:`course.grade` - ``python -m course.grade``: grade a notebook with an autograder,
  offline and without Docker (``otter run``)

The course plan, rubric and how to hold answers back: ``docs/course.md``.
"""
