"""The ``numbdx`` command line: ``infer``, ``next``, ``vocab``, ``export`` and ``serve``.

Evidence is given as ``KEY=VALUE`` arguments and typed by the variable's kind in the model, then handed
to :func:`numbdx.infer`, so the library's own validation (and its error messages) decides what is
valid; the command line never guesses a value. See :data:`VALUE_RULES`.

Exit codes: 0 success; 1 another numbdx error (a malformed knowledge base, an inference limit, an
unwritable output file); 2 a usage error or evidence the model cannot take; 130 interrupted.
Errors go to stderr without a traceback, so stdout stays clean for ``--json`` piping.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import __version__
from ._api import infer, load_model
from ._exceptions import EvidenceError, ImpossibleEvidenceError, NumbdxError
from ._model import CHIEF_COMPLAINT
from ._result import DISCLAIMER

if TYPE_CHECKING:
    from ._model import Model
    from ._result import CauseResult, Differential
    from ._voi import NextQuestions

__all__ = ["main", "parse_evidence"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

UNKNOWN = "unknown"
# What `numbdx serve` needs beyond the core dependencies: a missing one of these is an installation
# problem with a known fix (the `service` extra), not a bug to show as a traceback.
SERVICE_MODULES = frozenset({"fastapi", "uvicorn", "starlette", "pydantic", "jsonschema", "anyio"})
# A number of years as Python writes a float or an int (so `repr(float)` round-trips), but without
# the underscores, "nan" and "inf" that float() also accepts: anything else reaches the library as
# text and is refused there with its own message.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_WIDTH = 100  # wrap width of the advice text (fixed, so output does not depend on the terminal)

VALUE_RULES = """\
evidence values (KEY=VALUE; names and states from `numbdx vocab`):
  yes/no questions     true or false (any case): smoking=true numb_heel=False
  categorical          a state name exactly as listed: sex=female numbness_side=left
  age                  a number of years (0-130): age=67 age=42.5
  any name             unknown: the same as leaving the key out (leg_numbness, the
                       chief complaint, is then still assumed present)
Anything else (yes, 1, none, Female, age=sixty) is an error naming the key: values
are checked by numbdx.infer, never guessed. A key given twice is an error."""

EXIT_CODES = """\
exit codes: 0 success; 1 other numbdx error (knowledge base, inference limit, output
file); 2 usage error or evidence the model cannot take (unknown name, invalid value,
impossible combination). Errors go to stderr; stdout holds only the answer."""


class CommandLineError(ValueError):
    """A malformed command line that argparse itself cannot see (a ``KEY=VALUE`` problem)."""


# --- evidence ---------------------------------------------------------------------------------------


def _kinds(model: Model) -> dict[str, str | tuple[str, ...]]:
    """Evidence name -> ``"age"``, ``"binary"`` or the tuple of its state names."""
    kinds: dict[str, str | tuple[str, ...]] = {}
    for var in model.upper:
        if var.name == "age":
            kinds[var.name] = "age"  # its states are bands; the library takes years
        elif set(var.states) == {"True", "False"}:
            kinds[var.name] = "binary"
        else:
            kinds[var.name] = tuple(var.states)
    kinds[CHIEF_COMPLAINT] = "binary"
    for f in model.findings:
        kinds[f.name] = "binary" if f.kind == "binary" else tuple(f.states)
    return kinds


def _typed(kind: str | tuple[str, ...] | None, text: str) -> Any:
    """The Python value for ``text`` under the rules of :data:`VALUE_RULES`.

    Text that fits no rule is returned unchanged, so that :func:`numbdx.infer` refuses it with the
    message it gives every caller (naming the key and what it expects).
    """
    if isinstance(kind, tuple) and text in kind:
        return text  # a state name always wins, even one that looks like a keyword
    if kind is not None and text.lower() == UNKNOWN:
        return None
    if kind == "binary" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if kind == "age" and _NUMBER.fullmatch(text):
        try:
            return int(text) if _INTEGER.fullmatch(text) else float(text)
        except ValueError:  # more digits than int() converts: infer refuses the text instead
            return text
    return text


def parse_evidence(items: Sequence[str], model: Model | None = None) -> dict[str, Any]:
    """Turn ``KEY=VALUE`` strings into an evidence mapping for :func:`numbdx.infer`.

    Parameters
    ----------
    items
        Strings ``"name=value"``, split at the first ``=``.
    model
        The model whose variables give each value its type; the shipped model by default.

    Returns
    -------
    dict
        Name -> ``True``/``False`` (binary), a state name (categorical), an ``int`` or ``float`` (age),
        ``None`` (``unknown``), or the unchanged text when no rule fits (which ``infer`` then refuses).
        Unknown names are kept as given so that ``infer`` reports them with its suggestions.

    Raises
    ------
    CommandLineError
        An item has no ``=``, an empty name, or a name given twice.
    """
    model = model if model is not None else load_model()
    kinds = _kinds(model)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            raise CommandLineError(f"evidence must be KEY=VALUE, got {item!r}")
        if not key:
            raise CommandLineError(f"evidence {item!r} has no name before '='")
        if key in out:
            # last-one-wins would silently drop an answer; say so instead
            raise CommandLineError(f"evidence {key!r} is given more than once")
        out[key] = _typed(kinds.get(key), text)
    return out


# --- formatting -------------------------------------------------------------------------------------


def _percent(p: float) -> str:
    """A probability for a table: tiny but non-zero values are not shown as a flat 0.0%."""
    if 0 < p < 0.0005:
        return "<0.1%"
    return f"{p:.1%}"


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _wrapped(text: str, indent: str = "", hang: str = "") -> list[str]:
    """``text`` wrapped at :data:`_WIDTH`, continuation lines indented by ``indent + hang``."""
    return textwrap.wrap(text, _WIDTH, initial_indent=indent, subsequent_indent=indent + hang) or [indent]


def format_differential(d: Differential, top: int | None = 10) -> str:
    """The differential as the table ``numbdx infer`` prints.

    Triage first (level, advice and reasons), then the ``top`` causes (all with ``None``) and every
    red-flag cause below them, then assumptions, specialists, method, error bound and the disclaimer.
    """
    lines: list[str] = []
    if d.triage is not None:
        level = d.triage.level.upper().replace("_", "-")
        lines += _wrapped(f"TRIAGE: {level}. {d.triage.advice}", hang="  ")
        for reason in d.triage.reasons:
            lines += _wrapped(f"- {reason.text}", "  ", "  ")
        lines.append("")
    given = {k: v for k, v in d.evidence.items() if k not in d.assumed}
    shown = ", ".join(f"{k}={_value_text(v)}" for k, v in given.items()) or "(none)"
    lines += _wrapped(f"Evidence: {shown}", hang="  ")
    if d.assumed:
        lines.append("Assumed: " + ", ".join(f"{a}={_value_text(d.evidence[a])}" for a in d.assumed))
    lines.append("")

    count = len(d.causes) if top is None else min(top, len(d.causes))
    ranked = list(enumerate(d.causes, 1))
    rows = ranked[:count]
    hidden_flags = [(i, c) for i, c in ranked[count:] if c.red_flag]  # red flags are never hidden
    width = max([len("cause"), *(len(c.label) for _, c in rows + hidden_flags)])
    header = f"{'rank':>4}  {'cause':<{width}}  {'explains':>8}  {'present':>8}  {'prior':>8}"
    lines.append(header)

    def row(rank: int, c: CauseResult) -> str:
        flag = "  RED FLAG" if c.red_flag else ""
        numbers = f"{_percent(c.explains):>8}  {_percent(c.posterior):>8}  {_percent(c.prior):>8}"
        return f"{rank:>4}  {c.label:<{width}}  {numbers}{flag}"

    lines += [row(i, c) for i, c in rows]
    if hidden_flags:
        lines.append(f"{'...':>4}  red-flag causes below the top {count}:")
        lines += [row(i, c) for i, c in hidden_flags]
    lines.append("")
    lines += _wrapped(
        "explains: P(present and producing the numbness), the ranking; present: P(present); "
        "prior: P(present) from the context and risk factors alone."
    )
    if d.specialists:
        lines.append("Specialists: " + ", ".join(f"{s.label} {s.share:.0%}" for s in d.specialists[:3]))
    if d.method == "exact":
        lines.append(f"Method: exact (rounding error at most {d.error_bound:.1g})")
    else:
        lines.append(f"Method: {d.method.replace('_', ' ')} (every probability within +-{d.error_bound:.3f})")
    lines += _wrapped(DISCLAIMER)
    return "\n".join(lines)


def format_next_questions(q: NextQuestions) -> str:
    """The next questions as the table ``numbdx next`` prints."""
    lines = [
        f"Uncertainty about the causes now: {q.uncertainty:.3f} {q.units} "
        f"({q.considered} unanswered questions considered, criterion {q.criterion})",
        "",
    ]
    if q.questions:
        width = max(len("question"), *(len(x.name) for x in q.questions))
        lines.append(f"{'rank':>4}  {'question':<{width}}  {'value':>8}  answers (probability)")
        for i, x in enumerate(q.questions, 1):
            answers = ", ".join(f"{a.label} {a.probability:.0%}" for a in x.answers if a.probability > 0)
            lines.append(f"{i:>4}  {x.name:<{width}}  {x.value:>8.4f}  {answers}")
            lines.append(f"{'':>4}  {x.label}")
    else:
        lines.append("No unanswered question is left.")
    lines.append("")
    lines.append(f"value: expected reduction of the uncertainty, in {q.units}.")
    lines += _wrapped(f"Should stop asking: {'yes' if q.should_stop else 'no'} ({q.stop_reason})", hang="  ")
    return "\n".join(lines)


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    widths = {c: max([len(c), *(len(str(r[c])) for r in rows)]) for c in columns}
    last = columns[-1]  # not padded: no trailing blanks
    lines = ["  ".join(c if c == last else f"{c:<{widths[c]}}" for c in columns)]
    lines += ["  ".join(str(r[c]) if c == last else f"{r[c]!s:<{widths[c]}}" for c in columns) for r in rows]
    return "\n".join(lines)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


# --- commands ---------------------------------------------------------------------------------------


def _model(args: argparse.Namespace) -> Model:
    return load_model(args.priors)


def _cmd_infer(args: argparse.Namespace) -> int:
    model = _model(args)
    d = infer(parse_evidence(args.evidence, model), model=model, method=args.method)
    if args.json:
        _print_json(d.to_dict())
    else:
        print(format_differential(d, args.top))
    return EXIT_OK


def _cmd_next(args: argparse.Namespace) -> int:
    from ._voi import next_questions

    model = _model(args)
    evidence = parse_evidence(args.evidence, model)
    q = next_questions(evidence, args.n, model=model, include_tests=args.include_tests, criterion=args.criterion)
    if args.json:
        _print_json(q.to_dict())
    else:
        print(format_next_questions(q))
    return EXIT_OK


def _cmd_vocab(args: argparse.Namespace) -> int:
    frame = _model(args).vocabulary()
    if args.group is not None:
        groups = list(dict.fromkeys(frame["group"]))
        if args.group not in groups:
            raise CommandLineError(f"no group {args.group!r}; the groups are {', '.join(groups)}")
        frame = frame[frame["group"] == args.group]
    rows = frame.to_dict(orient="records")
    if args.json:
        _print_json(rows)
    else:
        print(_table(rows, list(frame.columns)))
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    # pgmpy is slow to import (seconds) and only this command needs it
    from pgmpy.readwrite import BIFWriter, XMLBIFWriter

    network = _model(args).to_pgmpy()
    network.name = network.name or "numbdx"  # the writers would call it "unknown"/"UNTITLED"
    writer = BIFWriter(network) if args.format == "bif" else XMLBIFWriter(network)
    text = str(writer)
    if args.output in (None, "-"):
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return EXIT_OK
    try:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise NumbdxError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"wrote {args.format} to {args.output}", file=sys.stderr)
    return EXIT_OK


def _missing_service_module(exc: ImportError) -> str | None:
    """The service dependency whose absence raised ``exc``, or None for any other import error."""
    name = (exc.name or "").partition(".")[0]
    return name if name in SERVICE_MODULES else None


def _cmd_serve(args: argparse.Namespace) -> int:
    # imported here so that the other commands work without the `service` extra
    try:
        from ._service import serve

        serve(args.host, args.port, workers=args.workers)
    except ImportError as exc:
        missing = _missing_service_module(exc)
        if missing is None:
            if exc.name == f"{__package__}._service":  # a build without the service module
                raise NumbdxError("this installation of numbdx has no HTTP service module") from None
            raise
        _error(
            args.prog,
            f"'numbdx serve' needs the optional web dependencies ({missing} is not installed); "
            'install them with: pip install "numbdx[service]"',
        )
        return EXIT_USAGE
    return EXIT_OK


# --- parser -----------------------------------------------------------------------------------------


def _integer(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _top(text: str) -> int | None:
    """``--top``: a positive count, or ``all`` (None)."""
    if text == "all":
        return None
    n = _integer(text)
    if n is None or n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text!r}")
    return n


def _bounded_int(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]`` (no upper bound with ``high=None``)."""

    def parse(text: str) -> int:
        n = _integer(text)
        if n is None or n < low or (high is not None and n > high):
            span = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"expected an integer {span}, got {text!r}")
        return n

    return parse


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)


def build_parser() -> argparse.ArgumentParser:
    """The ``numbdx`` argument parser (its help text is the command-line reference)."""
    parser = argparse.ArgumentParser(
        prog="numbdx",
        description="Bayesian differential diagnosis of numbness of the legs, feet and heels. " + DISCLAIMER,
        epilog=(
            "examples:\n"
            "  numbdx infer age=67 sex=male smoking=true pain_worse_walking=true\n"
            "  numbdx infer age=30 sex=female pregnancy=true numb_heel=true --json\n"
            "  numbdx next age=67 sex=male --n 3\n"
            "  numbdx vocab --group pain\n"
            "  numbdx export --format xmlbif --output numbdx.xml\n\n" + EXIT_CODES
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"numbdx {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    model_options = argparse.ArgumentParser(add_help=False)
    model_options.add_argument(
        "--priors", metavar="DIR", help="a knowledge-base (priors) folder to use instead of the shipped one"
    )

    def command(name: str, help_text: str, handler: Callable[[argparse.Namespace], int], **kw: Any) -> Any:
        sub = commands.add_parser(name, help=help_text, description=help_text, formatter_class=_Formatter, **kw)
        sub.set_defaults(handler=handler, prog=sub.prog, subparser=sub, takes_evidence=False)
        return sub

    evidence_help = "evidence as KEY=VALUE (see below and `numbdx vocab`); none: only the chief complaint"

    sub = command(
        "infer",
        "rank the causes given the evidence",
        _cmd_infer,
        parents=[model_options],
        epilog=VALUE_RULES + "\n\n" + EXIT_CODES,
    )
    sub.add_argument("evidence", nargs="*", metavar="KEY=VALUE", help=evidence_help)
    sub.add_argument("--json", action="store_true", help="print the differential as JSON (Differential.to_dict())")
    sub.add_argument(
        "--method",
        choices=("auto", "exact", "sampling"),
        default="auto",
        help="exact inference, importance sampling, or exact while possible (default: auto)",
    )
    sub.add_argument(
        "--top",
        type=_top,
        default=10,
        metavar="N",
        help="causes to list (default 10; 'all' for every cause); red-flag causes are always listed",
    )
    sub.set_defaults(takes_evidence=True)

    sub = command(
        "next",
        "the questions worth asking next (value of information)",
        _cmd_next,
        parents=[model_options],
        epilog=VALUE_RULES + "\n\n" + EXIT_CODES,
    )
    sub.add_argument("evidence", nargs="*", metavar="KEY=VALUE", help=evidence_help)
    sub.add_argument("--n", type=_bounded_int(0), default=5, metavar="N", help="questions to list (default 5)")
    sub.add_argument("--json", action="store_true", help="print the questions as JSON (NextQuestions.to_dict())")
    sub.add_argument("--include-tests", action="store_true", help="also value the diagnostic tests")
    sub.add_argument(
        "--criterion",
        choices=("entropy", "misclassification"),
        default="entropy",
        help="the uncertainty measure (default: entropy, in bits)",
    )
    sub.set_defaults(takes_evidence=True)

    sub = command(
        "vocab", "every evidence name with its kind, group, states and description", _cmd_vocab, parents=[model_options]
    )
    sub.add_argument("--json", action="store_true", help="print the vocabulary as a JSON list of records")
    sub.add_argument("--group", metavar="G", help="only the names of group G (context, risk_factor, pain, ...)")

    sub = command(
        "export",
        "the model as a BIF or XMLBIF file (pgmpy's writers, from Model.to_pgmpy())",
        _cmd_export,
        parents=[model_options],
    )
    sub.add_argument("--format", choices=("bif", "xmlbif"), required=True, help="the file format")
    sub.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")

    sub = command("serve", 'the HTTP service (needs: pip install "numbdx[service]")', _cmd_serve)
    sub.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sub.add_argument("--port", type=_bounded_int(0, 65535), default=8000, help="port (default 8000)")
    sub.add_argument("--workers", type=_bounded_int(1), default=1, help="worker processes (default 1)")
    return parser


# --- entry point ------------------------------------------------------------------------------------


def _error(prog: str, message: str) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr)


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    # argparse cannot take a variable-length positional list interleaved with options
    # (`infer age=67 --json sex=male`), so unrecognised words are evidence of the commands that take it.
    args, extras = parser.parse_known_args(argv)
    words = [e for e in extras if not e.startswith("-")] if args.takes_evidence else []
    unknown = [e for e in extras if e not in words]
    if unknown:
        args.subparser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if words:
        args.evidence = [*args.evidence, *words]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``numbdx`` command line and return its exit code.

    Parameters
    ----------
    argv
        The arguments after the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        0 on success, 1 for a numbdx error, 2 for a usage error or evidence the model cannot take
        (see :data:`EXIT_CODES`), 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except SystemExit as exc:  # --help, --version and usage errors: argparse has printed its message
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.handler(args)
    except CommandLineError as exc:
        args.subparser.print_usage(sys.stderr)
        _error(args.prog, str(exc))
        return EXIT_USAGE
    except EvidenceError as exc:
        _error(args.prog, str(exc))
        if not isinstance(exc, ImpossibleEvidenceError):  # the names and values were fine there
            hint = f"(run 'numbdx vocab' for every name and its values, '{args.prog} --help' for the value rules)"
            print(hint, file=sys.stderr)
        return EXIT_USAGE
    except NumbdxError as exc:
        _error(args.prog, str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`numbdx vocab | head`): silence the flush at exit, as Python's docs advise
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_ERROR
