"""What each assignment grades: built from notebooks 04, 05, 06 and 08 (``docs/course.md``).

A graded function is one the series' notebook already writes out (its reference answer):
the student bundle shows its signature and docstring, and a body that raises
``NotImplementedError`` with a hint. Under it the student runs ``grader.check(name)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer: the reference with one line changed (the tests submit it)."""

    what: str  # the mistake, as an instructor would name it
    line: str  # a line of the reference answer...
    wrong: str  # ...and what the mistake makes of it
    says: str  # words the feedback must contain


@dataclass(frozen=True)
class Question:
    """One graded function."""

    name: str  # the function, and the question's name in otter
    points: int
    hint: str  # what the TODO says
    fingerprint: str  # a distinctive line of the reference answer: never in the student bundle
    mistake: Mistake
    stand_in: tuple[str, str, str] | None = None
    """Where ``helpers`` holds this answer itself: (module file, function, the call of the
    student's own that replaces its body in the student bundle)."""


OPEN_QUESTION_POINTS = 5
"""Each open question's points, graded by hand (``docs/course.md``'s rubric)."""


@dataclass(frozen=True)
class Assignment:
    key: str  # "a1"...
    notebook: str  # the series notebook it is built from
    title: str
    questions: tuple[Question, ...]
    open_questions: tuple[str, ...]  # graded by hand, with the rubric in docs/course.md

    @property
    def number(self) -> int:
        """Its place in the course: assignment 1, 2..."""
        return ASSIGNMENTS.index(self) + 1

    @property
    def points(self) -> int:
        """The autograded points."""
        return sum(q.points for q in self.questions)

    @property
    def points_by_hand(self) -> int:
        return len(self.open_questions) * OPEN_QUESTION_POINTS


ASSIGNMENTS = (
    Assignment(
        key="a1", notebook="04_model.ipynb", title="The merge model",
        questions=(Question(
            name="build_merge_model", points=10,
            hint="Build the merge model with the Keras functional API: two inputs (features, "
                 "tokens); the image branch: a Normalization 'standardise' if feature_stats is "
                 "given, Dropout 'image_dropout', Dense 'image_dense' relu, reshaped to one "
                 "step; the word branch: Embedding 'embedding' with mask_zero=True, Dropout "
                 "'word_dropout', LSTM 'lstm' returning sequences; then Add 'merge', Dense "
                 "'decoder_dense' relu and Dense 'next_word' softmax. Later cells find the "
                 "layers by these names. Use the arguments for the sizes, and seed each "
                 "initialiser from `seed`.",
            fingerprint='merged = layers.Add(name="merge")([image, words])',
            mistake=Mistake(
                what="padding not masked: the embedding lacks mask_zero=True",
                line="    w = layers.Embedding(vocab_size, embedding_dim, mask_zero=True, "
                     'name="embedding",',
                wrong="    w = layers.Embedding(vocab_size, embedding_dim, "
                      'name="embedding",',
                says="mask_zero"),
            stand_in=("helpers/models.py", "build_caption_model",
                      'student_answer("04_model.ipynb", "build_merge_model")(vocab_size, '
                      "feature_dim=feature_dim, feature_stats=feature_stats, units=units, "
                      "embedding_dim=embedding_dim, dropout=dropout, seed=seed)"),
        ),),
        open_questions=(
            "Why does the merge model add the image vector at every step instead of giving it "
            "to the LSTM once, as the inject model does? Use the parameter counts printed above.",
            "Most of the model's parameters sit in one layer. Which, and what does that mean "
            "for a vocabulary of 8,000 words (estimate)?",
        ),
    ),
    Assignment(
        key="a2", notebook="05_training.ipynb", title="The masked loss",
        questions=(Question(
            name="masked_cross_entropy", points=10,
            hint="Pick each target word's probability (keras.ops.take_along_axis), make a 0/1 "
                 "mask of the real words (target id not 0), and return the mean of -log p over "
                 "the real words only. Write it with keras.ops: no library loss.",
            fingerprint="real = ops.cast(ops.not_equal(targets, 0), probs.dtype)",
            mistake=Mistake(
                what="padding counted in the loss",
                line="    return -ops.sum(ops.log(picked) * real) / ops.sum(real)",
                wrong="    return -ops.mean(ops.log(picked))",
                says="padding"),
        ),),
        open_questions=(
            "If padding were counted, would the loss be higher or lower than the masked one, "
            "and which captions would the model learn to favour? Say why.",
            "Teacher forcing feeds the true previous word during training. What does the "
            "model see at test time instead, and what can go wrong?",
        ),
    ),
    Assignment(
        key="a3", notebook="06_evaluation.ipynb", title="Decoding and BLEU",
        questions=(
            Question(
                name="plain_greedy", points=4,
                hint="Start from [<start>]; at each step call the model on [feature[None], "
                     "the whole prefix] and take the distribution at the last position; never "
                     "choose <pad>, <unk> or <start>; append the most probable word; stop after "
                     "<end> or when the prefix has vocab.max_length tokens. Return "
                     "vocab.decode(prefix).",
                fingerprint="probs[never] = -1.0             # these are never chosen",
                mistake=Mistake(
                    what="special tokens not excluded",
                    line="        probs[never] = -1.0             # these are never chosen",
                    wrong="        pass",
                    says="never chosen"),
            ),
            Question(
                name="beam_step", points=3,
                hint="Add each beam's score to each of its next words' log probabilities "
                     "(a k x V array), take the beam_size largest over the whole array (not per "
                     "beam), best first, and return their beam indices, word ids and totals.",
                fingerprint="totals = scores[:, None] + log_probs  # (k, V): every beam with "
                            "every next word",
                mistake=Mistake(
                    what="the beams' scores left out: words ranked by their own probability",
                    line="    totals = scores[:, None] + log_probs  # (k, V): every beam with "
                         "every next word",
                    wrong="    totals = 0 * scores[:, None] + log_probs",
                    says="score so far"),
            ),
            Question(
                name="clipped_precision", points=3,
                hint="Count the candidate's n-grams (collections.Counter of tuples); clip each "
                     "count at the most times any ONE reference has that n-gram; return "
                     "(sum of clipped counts, number of candidate n-grams).",
                fingerprint="clipped = sum(min(count, most[gram]) for gram, count in "
                            "counts.items())",
                mistake=Mistake(
                    what="counts not clipped",
                    line="    clipped = sum(min(count, most[gram]) for gram, count in "
                         "counts.items())",
                    wrong="    clipped = sum(count for gram, count in counts.items() "
                          "if most[gram])",
                    says="clip"),
            ),
        ),
        open_questions=(
            "Beam search found captions with a higher log probability than greedy decoding. "
            "Did BLEU follow? Use this run's printed table, and say why it need not.",
            "Counting <start> and <end> as words raises BLEU. Why, and why does it make two "
            "papers' scores incomparable?",
        ),
    ),
    Assignment(
        key="a4", notebook="08_attention.ipynb", title="Visual attention",
        questions=(
            Question(
                name="attend", points=5,
                hint="Score each of the L positions: e = tanh(a @ W_a + b_a + h @ W_h) @ v; "
                     "turn the scores into weights with a softmax (subtract the largest score "
                     "first); return the context (the positions averaged with the weights) and "
                     "the weights.",
                fingerprint="e = np.tanh(a @ W_a + b_a + h @ W_h) @ v  # (L,) one score per "
                            "position",
                mistake=Mistake(
                    what="the attention weights do not sum to one",
                    line="    alpha /= alpha.sum()  # softmax: positive, sums to one",
                    wrong="    pass",
                    says="sum to one"),
            ),
            Question(
                name="coverage_penalty", points=5,
                hint="With keras.ops: a 0/1 mask of the real words (token not 0); the coverage "
                     "of each position, sum over the real steps of its weight; subtract T / L "
                     "(T real words, L positions); square, sum over positions, divide by T.",
                fingerprint="coverage = ops.sum(alphas * real[:, :, None], axis=1)  # (batch, "
                            "L): how much each was seen",
                mistake=Mistake(
                    what="padding steps counted in the penalty",
                    line="    coverage = ops.sum(alphas * real[:, :, None], axis=1)  # (batch, "
                         "L): how much each was seen",
                    wrong="    coverage = ops.sum(alphas, axis=1)",
                    says="padding"),
                stand_in=("helpers/models.py", "coverage_penalty",
                          'student_answer("08_attention.ipynb", "coverage_penalty")(alphas, '
                          "tokens)"),
            ),
        ),
        open_questions=(
            "Pick one attention map above where the model looked at the right object and one "
            "where it did not. What did it write at that word?",
            "Why does the penalty leave out the constant (L - T)^2 / L, and what would the "
            "model learn if the weight PENALTY were very large?",
        ),
    ),
)

BY_KEY = {a.key: a for a in ASSIGNMENTS}
QUESTIONS = {q.name: q for a in ASSIGNMENTS for q in a.questions}
