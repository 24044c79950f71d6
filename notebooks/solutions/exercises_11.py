"""The answer key of notebooks/11_exercises.ipynb, for its test (tests/test_teach_notebook.py):
the right gradients of each exercise, to four significant digits as a learner would write
them, and wrong sheets with the diagnosis each wrong node must get.

Each exercise is named by the tag of its answers cell; ``ROOTS`` names the notebook variable
that holds the exercise's output and the one that holds its answers.
"""

from __future__ import annotations

ROOTS = {
    "answers-neuron": ("o", "neuron_answers"),
    "answers-twice": ("L", "twice_answers"),
    "answers-net": ("loss", "net_answers"),
}

SOLUTIONS: dict[str, dict[str, float]] = {
    "answers-neuron": {
        "n": 0.5,  # do/dn = 1 - o², and o = tanh(n) = 0.7071
        "s": 0.5,
        "b": 0.5,
        "x2w2": 0.5,
        "x1w1": 0.5,
        "w2": 0.0,  # x2 = 0
        "w1": 1.0,  # 0.5 · x1
    },
    "answers-twice": {
        "d": -6.0,  # L = d·d: two contributions of d each
        "c": -6.0,
        "b": -18.0,  # -6 · a
        "a": 6.0,  # -6 · b (through c) + -6 · 1 (through d)
    },
    "answers-net": {
        "r": -2.857,  # 2r, r = t - y = -1.428
        "y": 2.857,  # the − edge: ∂r/∂y = -1
        "((v1*h1)+(v2*h2))": 2.857,
        "c": 2.857,
        "(v2*h2)": 2.857,
        "(v1*h1)": 2.857,
        "v2": -2.176,  # 2.857 · h2
        "h2": -5.713,  # 2.857 · v2
        "v1": 2.586,  # 2.857 · h1
        "h1": 2.857,
        "z2": -2.399,  # -5.713 · (1 - h2²)
        "((w21*x1)+(w22*x2))": -2.399,
        "b2": -2.399,
        "(w22*x2)": -2.399,
        "(w21*x1)": -2.399,
        "w22": 4.799,  # -2.399 · x2
        "w21": -2.399,  # -2.399 · x1
        "z1": 0.5162,  # 2.857 · (1 - h1²)
        "((w11*x1)+(w12*x2))": 0.5162,
        "b1": 0.5162,
        "(w12*x2)": 0.5162,
        "(w11*x1)": 0.5162,
        "w12": -1.032,
        "w11": 0.5162,
    },
}

# (exercise, the answers changed from the key, the diagnosis of every node then wrong)
WRONG: list[tuple[str, dict[str, float | None], dict[str, str]]] = [
    ("answers-neuron", {"b": None}, {"b": "missing"}),
    ("answers-neuron", {"n": 0.2232}, {"n": "wrong_point"}),  # 1 - n² instead of 1 - o²
    ("answers-neuron", {"w1": 2.0}, {"w1": "upstream_missing"}),  # x1 alone
    ("answers-neuron", {"w1": -1.5}, {"w1": "swapped_operand"}),  # 0.5 · w1 instead of 0.5 · x1
    ("answers-twice", {"d": -3.0}, {"d": "used_twice"}),  # one of d's two contributions
    ("answers-twice", {"a": 12.0}, {"a": "used_twice"}),  # only the path through c
    (
        "answers-twice",
        {"d": -3.0, "c": -3.0, "b": -9.0, "a": 3.0},  # the rest worked right from d = -3
        {"d": "used_twice", "c": "follows_earlier", "b": "follows_earlier", "a": "follows_earlier"},
    ),
    ("answers-twice", {"a": 100.0}, {"a": "other"}),
    ("answers-net", {"y": -2.857}, {"y": "sign"}),  # ∂(t - y)/∂y taken as +1
    ("answers-net", {"z1": -3.571}, {"z1": "wrong_point"}),  # 2.857 · (1 - z1²), z1 = 1.5
]
