"""The ``autograd-lite`` command (also ``python -m autograd_lite``): demo, train, predict,
export."""

from __future__ import annotations

import argparse
import importlib
import io
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TypeAlias

from . import data, tabular
from ._files import writable_target, write_atomic
from ._version import __version__
from .engine import Value
from .interop import to_torch
from .losses import OBJECTIVES
from .nn import MLP
from .ops import PRIMITIVES
from .optim import Adam
from .serialize import load_with_metadata
from .train import History, evaluate, fit
from .viz import GraphvizNotFoundError, draw_dot


def demo(out: Path, epochs: int, seed: int, progress: bool) -> float:
    """Train an MLP on two moons; write pictures and model to ``out``; return val accuracy."""
    _check_folder(out)  # before training: a run is not lost to an unwritable folder
    X, y = data.make_moons(200, noise=0.1, seed=seed)
    X_train, X_val, y_train, y_val = data.train_test_split(X, y, test_size=0.25, seed=seed)
    model = MLP(2, [16, 16, 1], seed=seed)
    _say(
        f"Training {model} ({len(model.parameters())} parameters) on {len(X_train)} "
        f"two-moons points, validating on {len(X_val)}"
    )
    history = fit(
        model,
        X_train,
        y_train,
        loss="bce",
        epochs=epochs,
        batch_size=16,
        seed=seed,
        optimizer=Adam(model.parameters(), lr=0.02),
        validation=(X_val, y_val),
        progress=progress,
    )
    train_accuracy = evaluate(model, X_train, y_train, loss="bce")[1] or 0.0
    val_accuracy = evaluate(model, X_val, y_val, loss="bce")[1] or 0.0
    _say(f"final: train accuracy {train_accuracy:.2f}, validation accuracy {val_accuracy:.2f}")

    # The moons are used unscaled, so `autograd-lite predict` takes the model as it is.
    metadata = tabular.TabularMetadata(["x1", "x2"], "moon", "bce", [0.0, 0.0], [1.0, 1.0])
    tabular.save_bundle(model, metadata, out / "model.json")
    written = [out / "model.json"]
    try:
        written += _plots(model, history, X, y, out)
    except ImportError as error:
        _say(f"no plots: {error}")
    try:
        written.append(_neuron_graph(model, X_train[0], out))
    except ImportError as error:
        _say(f"no neuron graph: {error}")
    _say("wrote " + ", ".join(str(path) for path in written))
    return val_accuracy


def _plots(model: MLP, history: History, X: data.Rows, y: list[float], out: Path) -> list[Path]:
    from .plots import plot_decision_boundary, plot_history

    plot_history(history).savefig(out / "loss_curve.png", dpi=120)
    plot_decision_boundary(model, X, y).savefig(out / "decision_boundary.png", dpi=120)
    return [out / "loss_curve.png", out / "decision_boundary.png"]


def _neuron_graph(model: MLP, x: list[float], out: Path) -> Path:
    """Draw the first hidden neuron on one example, after backward(): SVG, or DOT without dot."""
    neuron = model.layers[0].neurons[0]
    inputs = [Value(v, label=f"x{i + 1}", requires_grad=False) for i, v in enumerate(x)]
    for i, w in enumerate(neuron.w):
        w.label = f"w{i + 1}"
    neuron.b.label = "b"
    activation = neuron(inputs)
    activation.label = "out"
    model.zero_grad()
    activation.backward()
    graph = draw_dot(activation)
    model.zero_grad()
    try:
        svg = graph.pipe(format="svg")  # pipe, not render: no stray source file on failure
    except GraphvizNotFoundError:
        (out / "neuron.dot").write_text(graph.source, encoding="utf-8")
        _say(
            "Graphviz's dot is missing, so the neuron graph is DOT text: install graphviz "
            f"(apt-get/brew install graphviz), then: dot -Tsvg {out / 'neuron.dot'} "
            f"-o {out / 'neuron.svg'}"
        )
        return out / "neuron.dot"
    (out / "neuron.svg").write_bytes(svg)
    return out / "neuron.svg"


def _sizes(text: str) -> list[int]:
    if text.strip().lower() == "none":
        return []  # no hidden layer: a linear model, asked for by name
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected sizes like 16,16 (or none for a linear model), got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _same_file(a: Path, b: Path) -> bool:
    """Whether writing ``a`` would overwrite ``b`` (through links too)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def _check_out(out: Path, *inputs: Path, option: str = "--out") -> None:
    """Refuse an output that is one of the inputs or cannot be written, before any work."""
    for given in inputs:
        if _same_file(out, given):
            raise ValueError(
                f"{option} {out} is the input file {given}; write the output elsewhere"
            )
    writable_target(out)


def _check_folder(out: Path) -> None:
    """Make the output folder and check that a file can be written in it, naming ``out``."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} is a file; give a folder for the demo's files")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"--out {out}: cannot make the folder ({error.strerror})") from None
    writable_target(out / "model.json")


def train(args: argparse.Namespace) -> None:
    """Fit an MLP to a CSV file's columns and save it with what ``predict`` needs."""
    _check_out(args.out, args.data)
    run = tabular.prepare(
        args.data, args.target, hidden=args.hidden, loss=args.loss, seed=args.seed
    )
    classes = run.metadata.classes
    if classes is not None:
        shown = ", ".join(f"{label:g}" for label in classes[:8]) + (", …" if classes[8:] else "")
        _say(
            f"note: the class labels {shown} of {args.target!r} are numbered 0..{len(classes) - 1}"
            " for training; predict writes the labels back"
        )
    held_out = len(run.validation[0]) if run.validation else "no"
    _say(
        f"Training {run.model} with {run.metadata.loss} loss on {len(run.X)} rows of "
        f"{args.data} ({held_out} held out for validation)"
    )
    history = run.fit(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        progress=not args.quiet,
        early_stopping=args.early_stopping,
    )
    if history.stopped_early:
        _say(f"stopped early: no better validation loss for {args.early_stopping} epochs; kept "
             f"the weights of epoch {history.best_epoch}")  # fmt: skip
    _say("final: " + ", ".join(f"{key} {value:.4g}" for key, value in run.report(history).items()))
    run.save(args.out)
    _say(f"wrote {args.out}")


def add_predictions(args: argparse.Namespace) -> None:
    """Add a prediction column to a CSV file, with a model saved by ``train``."""
    if args.out is not None:
        _check_out(args.out, args.data, args.model)
    text, count = tabular.predict_csv(args.model, args.data)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.out, text)
        _say(f"wrote {count} predictions to {args.out}")


def export(args: argparse.Namespace) -> None:
    """Write a saved model as a PyTorch module (``torch.save`` of :func:`to_torch`'s)."""
    _check_out(args.to, args.model, option="--to")
    model, metadata = load_with_metadata(args.model)
    module = to_torch(model)  # ImportError, said in one line, when PyTorch is missing
    buffer = io.BytesIO()
    importlib.import_module("torch").save(module, buffer)
    write_atomic(args.to, buffer.getvalue())
    _say(f"wrote {args.to}: {' '.join(str(module).split())}")
    if "means" in metadata:
        _say(
            "note: like the model, the module takes the features "
            f"{', '.join(map(str, metadata.get('features', [])))} standardized with the "
            f"means and stds in {args.model}'s metadata"
            + (", and gives the target standardized" if metadata.get("loss") == "mse" else "")
        )
    if isinstance(metadata.get("classes"), list):
        _say(f"note: its output i scores the class label classes[i] in {args.model}'s metadata")
    _say(f"load it with torch.load({str(args.to)!r}, weights_only=False)")


def explore_expression(args: argparse.Namespace) -> None:
    """Write the step-by-step HTML explorer for an expression given on the command line."""
    from .explorer import explore, parse_expression
    from .viz import animate_backward

    _check_out(args.out)
    if args.gif is not None:
        _check_out(args.gif, args.out, option="--gif")
    root = parse_expression(args.expression, dict(args.values))
    _say(str(explore(root, args.out)))
    if args.gif is not None:
        _say(str(animate_backward(root, args.gif)))


def serve_playground(args: argparse.Namespace) -> None:
    """Serve the playground until Ctrl-C or SIGTERM."""
    from .play.server import run

    run(args.host, args.port, not args.no_browser, _say)


def _binding(text: str) -> tuple[str, float]:
    name, equals, number = text.partition("=")
    if not equals or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, like a=2, got {text!r}")
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{name.strip()}: expected a number, got {number!r}"
        ) from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{name.strip()}: the value must be finite, got {number}")
    return name.strip(), value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _batch_size(text: str) -> int | None:
    return None if text.strip().lower() == "auto" else _positive(text)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be positive and finite, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (and exit code 2), like a bad file."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# What add_subparsers returns (a string: the class is generic only to type checkers).
_Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def parser() -> argparse.ArgumentParser:
    """The command line: ``--version`` and one subcommand per task, each with its own help.

    >>> parser().parse_args(["demo", "--epochs", "5"]).epochs
    5
    """
    main_parser = _Parser(
        prog="autograd-lite",
        description="Train and use small neural networks built on autograd_lite.",
    )
    main_parser.add_argument("--version", action="version", version=f"autograd-lite {__version__}")
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_demo, _add_train, _add_predict, _add_export, _add_explore, _add_playground):
        add(commands)
    return main_parser


def _add_demo(commands: _Commands) -> None:
    """Add ``demo``: train on two moons and draw the result."""
    demo_parser = commands.add_parser(
        "demo",
        help="train a network on two moons, draw it",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train an MLP(2, [16, 16, 1]) on two moons and write its loss curve, "
        "decision boundary, model and a neuron's graph to a folder.",
    )
    demo_parser.add_argument("--epochs", type=_positive, default=30, help="training epochs")
    demo_parser.add_argument("--seed", type=int, default=0, help="seed for data and weights")
    demo_parser.add_argument(
        "--out",
        type=Path,
        default=Path("autograd_lite_demo"),
        help="folder for the pictures and the model",
    )
    demo_parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_train(commands: _Commands) -> None:
    """Add ``train``: fit an MLP to a CSV file."""
    train_parser = commands.add_parser(
        "train",
        help="fit an MLP to your own CSV file",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Fit an MLP to a numeric CSV file (with a header row): every column but "
        "the target is a feature. The loss follows the target: 0/1 -> bce, small "
        "class numbers -> cross_entropy, anything else -> mse (regression).",
    )
    train_parser.add_argument("data", type=Path, help="the CSV file")
    train_parser.add_argument(
        "--target", required=True, default=argparse.SUPPRESS, help="the column to predict"
    )
    train_parser.add_argument(
        "--hidden",
        type=_sizes,
        default="16,16",  # argparse passes a string default through type=_sizes
        metavar="SIZES",
        help="hidden layer sizes, comma-separated (none: a linear model)",
    )
    train_parser.add_argument("--epochs", type=_positive, default=100, help="training epochs")
    train_parser.add_argument(
        "--batch-size",
        type=_batch_size,
        default="auto",
        metavar="N",
        help="rows per step; auto: 32, or 1%% of the rows of a table over 3,200 rows",
    )
    train_parser.add_argument("--lr", type=_rate, default=0.01, help="Adam's learning rate")
    train_parser.add_argument(
        "--early-stopping",
        type=_positive,
        default=None,
        metavar="N",
        help="stop after N epochs without a better validation loss, keeping the best weights "
        "(default: train every epoch)",
    )
    train_parser.add_argument(
        "--loss",
        default="auto",
        choices=["auto", *sorted(OBJECTIVES)],
        help="the loss (auto: chosen from the target column)",
    )
    train_parser.add_argument("--seed", type=int, default=0, help="seed for split and weights")
    train_parser.add_argument(
        "--out", type=Path, default=Path("model.json"), help="where to save the model"
    )
    train_parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_predict(commands: _Commands) -> None:
    """Add ``predict``: add a prediction column to a CSV file."""
    predict_parser = commands.add_parser(
        "predict",
        help="predict with a saved model",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Read a CSV file with the model's feature columns and write it back "
        "with a predicted_<target> column.",
    )
    predict_parser.add_argument("model", type=Path, help="a model.json written by train")
    predict_parser.add_argument("data", type=Path, help="the CSV file")
    predict_parser.add_argument("--out", type=Path, help="output CSV (default: standard output)")


def _add_export(commands: _Commands) -> None:
    """Add ``export``: write a saved model as a PyTorch module."""
    export_parser = commands.add_parser(
        "export",
        help="write a saved model as a PyTorch module",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Write a model saved by train or ag.save as a PyTorch module (an "
        "nn.Sequential of Linear and activation layers, float64, the same weights) with "
        "torch.save, to keep training it in PyTorch. Needs PyTorch installed.",
    )
    export_parser.add_argument("model", type=Path, help="a model.json written by train")
    export_parser.add_argument(
        "--to", type=Path, required=True, default=argparse.SUPPRESS, help="the .pt file to write"
    )


def _add_explore(commands: _Commands) -> None:
    """Add ``explore``: the backprop explorer page for an expression."""
    explore_parser = commands.add_parser(
        "explore",
        help="write an HTML page that steps through backprop on an expression",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Write one self-contained HTML page that steps through the forward and "
        'backward pass of an expression, e.g. explore "(a*b + c) * f" a=2 b=-3 c=10 f=-2. '
        "The expression may use numbers, the names given, + - * / **, and "
        f"{' '.join(op.function for op in PRIMITIVES.values() if op.function)}; it is parsed, "
        "never run as Python.",
    )
    explore_parser.add_argument("expression", help='the expression, e.g. "(a*b + c) * f"')
    explore_parser.add_argument(
        "values", nargs="*", type=_binding, metavar="NAME=VALUE", help="a value for each name"
    )
    explore_parser.add_argument(
        "--out", type=Path, default=Path("backprop.html"), help="the HTML file to write"
    )
    explore_parser.add_argument(
        "--gif",
        type=Path,
        metavar="FILE",
        help="also write the backward pass as an animated GIF (needs Pillow: the gif extra)",
    )


def _add_playground(commands: _Commands) -> None:
    """Add ``playground``: serve the training page."""
    playground_parser = commands.add_parser(
        "playground",
        help="watch a network learn in the browser (a local web page)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Serve the playground, a page driven by autograd_lite: pick data, "
        "features and a network, train it, watch its neurons, weights and gradients, and "
        "export the run as Python. Prints the link (with its token) and serves until Ctrl-C.",
    )
    playground_parser.add_argument("--port", type=int, default=8765, help="0: any free port")
    playground_parser.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (others: a warning)"
    )
    playground_parser.add_argument(
        "--no-browser", action="store_true", help="print the link, open no browser"
    )


def _say(text: str) -> None:
    """Print a line now. A reader that went away (``| head``) does not stop the work: the
    rest of the output goes nowhere, and the files are still written."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; bad arguments, bad files and a missing program or package (PyTorch
    for export, Graphviz for explore) end with one line and exit code 2.

    Args:
        argv: The arguments, without the program's name; None reads ``sys.argv``.

    Returns:
        0 on success.

    Raises:
        SystemExit: With code 2 for any of the errors above (and 0 after ``--help``).
    """
    command_parser = parser()
    args = command_parser.parse_args(argv)
    try:
        if args.command == "demo":
            demo(args.out, args.epochs, args.seed, not args.quiet)
        elif args.command == "train":
            train(args)
        elif args.command == "export":
            export(args)
        elif args.command == "explore":
            explore_expression(args)
        elif args.command == "playground":
            serve_playground(args)
        else:
            add_predictions(args)
    except (ImportError, OSError, ValueError, GraphvizNotFoundError) as error:
        message = " ".join(str(error).split("\n"))  # one line, even for a name with a newline
        command_parser.exit(2, f"autograd-lite {args.command}: error: {message}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
