"""``upir patterns match FILE`` and ``upir patterns discover DIR``.

``match`` ranks the patterns of a library (the built-ins unless ``--library``
names a saved one) by similarity to each UPIR in FILE, and explains each match.
``discover`` clusters every UPIR found in the YAML/JSON files under DIR into
patterns; ``--save`` writes them as a library that ``match --library`` reads.

Exit codes: 0 ok; 2 invalid input (an unreadable or invalid file, an empty
directory, a malformed library).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upir.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    Context,
    add_format_options,
    print_output,
    read_upirs,
    report_invalid,
)
from upir.errors import InvalidSpecError

if TYPE_CHECKING:
    from upir.core import UPIR
    from upir.patterns import Pattern

# upir.patterns pulls in scikit-learn and SciPy (about a second to import), so it is
# imported when a patterns command runs, not whenever the CLI starts.
CLUSTERERS = ("kmeans", "dbscan", "agglomerative")
"""Same as ``upir.patterns.CLUSTERER_NAMES`` (a test keeps them equal)."""

MAX_CORPUS_FILES = 10_000
"""Most files ``discover`` reads from one directory tree."""

_SUFFIXES = (".yaml", ".yml", ".json")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("patterns", help="match against and discover architecture patterns")
    psub = p.add_subparsers(dest="patterns_command", required=True, metavar="COMMAND")

    m = psub.add_parser("match", help="rank library patterns by similarity to a UPIR")
    m.add_argument("file", metavar="FILE", help="UPIR resource (YAML or JSON; - for stdin)")
    m.add_argument(
        "--top", type=_positive, default=3, metavar="K", help="matches to show (default 3)"
    )
    m.add_argument("--library", metavar="PATH", help="pattern library JSON (default: built-ins)")
    add_format_options(m)
    m.set_defaults(run=run_match)

    d = psub.add_parser("discover", help="cluster the UPIRs under a directory into patterns")
    d.add_argument("dir", metavar="DIR", help="directory searched for *.yaml, *.yml, *.json")
    d.add_argument("--clusterer", choices=CLUSTERERS, default="kmeans", help="clustering algorithm")
    d.add_argument(
        "--clusters",
        type=_positive,
        metavar="K",
        help="number of clusters (default: by silhouette)",
    )
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--save", metavar="PATH", help="write the discovered patterns as a library")
    add_format_options(d)
    d.set_defaults(run=run_discover)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


# -- match -------------------------------------------------------------------------
def run_match(args: argparse.Namespace, ctx: Context) -> int:
    from upir.patterns import PatternLibrary

    try:
        library = PatternLibrary.load(args.library) if args.library else PatternLibrary.builtin()
    except InvalidSpecError as err:
        report_invalid(args.library, err)
        return EXIT_INVALID
    try:
        upirs = read_upirs(args.file)
    except InvalidSpecError as err:
        report_invalid(args.file, err)
        return EXIT_INVALID
    results = [(u, library.match(u, top_k=args.top)) for u in upirs]
    if args.format is not None:
        print_output(
            {
                "file": args.file,
                "library": args.library or "builtin",
                "results": [
                    {"upir": u.name, "matches": [m.to_dict() for m in matches]}
                    for u, matches in results
                ],
            },
            args.format,
        )
        return EXIT_OK
    for u, matches in results:
        print(f"{args.file}: UPIR {u.name!r}")
        if not matches:
            print("  no patterns in the library")
        for rank, m in enumerate(matches, 1):
            s = m.pattern.success
            lo, hi = s.interval()
            print(f"  {rank}. {m.pattern.id} ({m.pattern.name}): similarity {m.similarity:.2f}")
            print(f"     {m.explanation.summary()}")
            roles = ", ".join(f"{c}->{r or '?'}" for c, r in m.explanation.roles.items())
            print(f"     roles: {roles}")
            print(
                f"     verified instances: {s.successes} of {s.successes + s.failures} "
                f"(success rate {s.mean:.2f}, 90% interval {lo:.2f}-{hi:.2f}); "
                f"{len(m.pattern.proofs)} proved property keys for reuse"
            )
    return EXIT_OK


# -- discover ----------------------------------------------------------------------
def _corpus_files(root: Path) -> list[Path]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)
    if len(files) > MAX_CORPUS_FILES:
        raise InvalidSpecError.single(
            str(root), f"{len(files)} files; the limit is {MAX_CORPUS_FILES}"
        )
    return files


def _pattern_summary(p: Pattern, sources: list[str]) -> dict[str, Any]:
    out = p.to_dict()
    out.pop("reference", None)
    out.pop("spread", None)
    out.pop("features", None)
    out["sources"] = sources
    return out


def run_discover(args: argparse.Namespace, ctx: Context) -> int:
    from upir.patterns import PatternExtractor, PatternLibrary

    root = Path(args.dir)
    if not root.is_dir():
        sys.stderr.write(f"upir: {args.dir}: not a directory\n")
        return EXIT_INVALID
    try:
        files = _corpus_files(root)
    except InvalidSpecError as err:
        report_invalid(args.dir, err)
        return EXIT_INVALID
    upirs: list[UPIR] = []
    origin: list[str] = []
    bad = False
    for f in files:
        try:
            found = read_upirs(str(f))
        except InvalidSpecError as err:
            report_invalid(str(f), err)
            bad = True
            continue
        for u in found:
            upirs.append(u)
            origin.append(f"{f}#{u.name}" if len(found) > 1 else str(f))
    if bad:
        return EXIT_INVALID
    if not upirs:
        sys.stderr.write(f"upir: {args.dir}: no UPIR resources found\n")
        return EXIT_INVALID
    extractor = PatternExtractor(args.clusterer, seed=args.seed, n_clusters=args.clusters)
    result = extractor.discover(upirs)
    labels = result.clustering.labels.tolist()
    members: dict[int, list[str]] = {}
    for i, label in enumerate(labels):
        members.setdefault(label, []).append(origin[i])
    # patterns come out in label order, skipping noise and too-small clusters
    kept = [
        label
        for label in sorted(set(labels) - {-1})
        if len(members[label]) >= extractor.min_cluster_size
    ]
    if args.save:
        try:
            PatternLibrary(result.patterns).save(args.save)
        except OSError as err:
            sys.stderr.write(f"upir: {args.save}: cannot write: {err.strerror or err}\n")
            return EXIT_INVALID
    if args.format is not None:
        print_output(
            {
                "directory": args.dir,
                "architectures": len(upirs),
                "clusterer": args.clusterer,
                "clusters": result.clustering.k,
                "silhouette": result.clustering.silhouette,
                "patterns": [
                    _pattern_summary(p, members[label])
                    for p, label in zip(result.patterns, kept, strict=True)
                ],
                "outliers": [origin[i] for i in result.outliers],
                "saved": args.save,
            },
            args.format,
        )
        return EXIT_OK
    sil = result.clustering.silhouette
    print(
        f"{args.dir}: {len(upirs)} architectures, {result.clustering.k} clusters "
        f"({args.clusterer}" + (f", silhouette {sil:.3f})" if sil is not None else ")")
    )
    for p, label in zip(result.patterns, kept, strict=True):
        print(f"  {p.id}: {p.name} ({p.members} members)")
        for r in p.roles:
            count = (
                f"{r.min_count}" if r.min_count == r.max_count else f"{r.min_count}-{r.max_count}"
            )
            print(f"     role {r.name}: {r.type} x{count}")
        for t in p.properties:
            print(f"     property {t.name}: {t.operator} {t.predicate} (stated by {t.seen})")
        shown = members[label][:3]
        more = len(members[label]) - len(shown)
        print("     e.g. " + ", ".join(shown) + (f" (+{more} more)" if more > 0 else ""))
    if result.outliers:
        print(f"  outliers: {', '.join(origin[i] for i in result.outliers)}")
    if args.save:
        print(f"  saved {len(result.patterns)} patterns to {args.save}")
    return EXIT_OK
