"""Command line: `python -m ragft doctor | models prepare | data fetch|build|verify | decide |
eval-retrieval | bench | ask | experiment | labs build|check|grade|release | notebook run`.

Each command prints JSON (with --json) so that the numbers a notebook shows can be
reproduced and checked from a terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True, default=str))


def _cmd_doctor(args: argparse.Namespace) -> int:
    from ragft.course.doctor import format_report, run_checks

    checks = run_checks(include_generation=not args.quick)
    if args.json:
        _print_json([c.as_dict() for c in checks])
    else:
        print(format_report(checks))
    return 0 if all(c.ok for c in checks) else 1


def _cmd_models_prepare(args: argparse.Namespace) -> int:
    from ragft.runtime.models import prepare_models

    _print_json(prepare_models(force=args.force))
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from ragft.corpus.build import fetch_sdists

    _print_json({version: str(path) for version, path in fetch_sdists().items()})
    return 0


def _cmd_data_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ragft.corpus.build import build_all

    out = Path(args.out) if args.out else None
    _print_json(build_all(data_dir=out))
    return 0


def _cmd_data_verify(args: argparse.Namespace) -> int:
    from ragft.corpus.data import verify_data

    report = verify_data()
    _print_json(report)
    return 0 if report["ok"] else 1


def _cmd_notebook_run(args: argparse.Namespace) -> int:
    from ragft.runtime.notebook_runner import run_notebook

    results = [
        run_notebook(path, threads=args.threads, write_header=not args.no_header) for path in args.paths
    ]
    _print_json(results)
    return 0 if all(r["seconds"] <= r["max_seconds"] and r["peak_mb"] <= r["max_mb"] for r in results) else 1


def _cmd_decide(args: argparse.Namespace) -> int:
    from ragft.decision.framework import ask_answers, format_recommendation, read_answers, recommend

    recommendation = recommend(read_answers(args.answers) if args.answers else ask_answers())
    if args.json:
        _print_json(recommendation.as_dict())
    else:
        print(format_recommendation(recommendation))
    return 0


def _cmd_labs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ragft.labs import assignments as labs

    if args.labs_command == "release":
        from ragft.labs.release import release

        _print_json(release(args.out_dir))
        return 0
    if args.labs_command == "grade" and Path(args.notebook).is_dir():
        from ragft.labs.classroom import format_summary, grade_folder

        if not args.out:
            raise ValueError("--out is required when notebook is a folder: the CSV to write, e.g. grades.csv")
        report = grade_folder(args.lab, args.notebook, args.out, timeout=args.timeout)
        print(format_summary(report))
        return 0
    if args.labs_command == "grade":
        result = labs.grade(args.lab, args.notebook, timeout=args.timeout)
        _print_json(result)
        for path in result["changed_files"]:
            print(f"warning: {path} changed while the notebook ran", file=sys.stderr)
        return 0 if result["status"] == "ok" else 1
    changed = labs.build_student_notebooks(check=args.labs_command == "check")
    _print_json({"labs": labs.lab_names(), "changed": changed})
    return 1 if args.labs_command == "check" and changed else 0


def _cmd_eval_retrieval(args: argparse.Namespace) -> int:
    import time

    from ragft.retrieval.retrieval_eval import evaluate_collection
    from ragft.runtime.threads import configure_torch_threads

    configure_torch_threads()
    clock = time.perf_counter()
    result = evaluate_collection(
        args.directory,
        args.method,
        k=args.k,
        split=args.split,
        fusion=args.fusion,
        weight=args.weight,
        scoring=args.scoring,
        variant=args.embedding,
        tune_embedder=args.tune_embedder,
    )
    result["timings"]["total_s"] = round(time.perf_counter() - clock, 3)
    if args.json:
        _print_json(result)
    else:
        for name in ("ndcg@10", "recall@10", "recall@100", "mrr@10"):
            print(f"{name:>11}  {result[name]:.3f}")
        print(
            f"{result['documents']} documents, {result['chunks']} chunks, {result['queries']} queries, "
            f"{result['timings']['total_s']:.1f} s"
        )
        if result.get("pointer_answers"):
            print(
                f"{result['pointer_answers']} of the {result['queries']} questions have a judged answer that "
                "only links elsewhere ('See :ref:`...`.'): a retriever that finds the linked section scores "
                "nothing for it. Judge that section relevant too, or leave those questions out (notebook 04)."
            )
        tuning = result["tuned_embedder"]
        if tuning is not None:
            print(
                f"MiniLM left untuned: {tuning['skipped']}"
                if tuning["skipped"]
                else f"MiniLM tuned on {tuning['pairs']} of its headings ({tuning['cpu_s']} CPU-s)"
            )
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from ragft.retrieval import retrieval_bench

    report = retrieval_bench.run(args.bench_command, save=args.save)
    if args.json or args.bench_command == "collections":
        _print_json(report)
    else:
        print(retrieval_bench.summary(report))
    return 0


def _cmd_experiment(args: argparse.Namespace) -> int:
    if args.name == "rag-eval":
        from ragft.rag import rag_eval

        chosen = [(name, getattr(args, name)) for name in _RAG_EVAL_OPTIONS]
        argv = [f"--{name.replace('_', '-')}={value}" for name, value in chosen if value is not None]
        return rag_eval.main(argv + (["--json"] if args.json else []))

    if args.name == "knowledge-vs-behavior":
        return _knowledge_vs_behavior(args)
    if args.name in ("hybrid", "memorized"):
        from ragft.hybrid import memorized, study
        from ragft.runtime.records import save_record

        module = study if args.name == "hybrid" else memorized
        result = study.run_study() if args.name == "hybrid" else memorized.run()
        if args.save:
            save_record(result, module.record_path())
        _print_json(result if args.json else study.summary(result))
        return 0
    from ragft.tuning import experiments

    if args.name == "lora-behavior":
        result = experiments.behavior_experiment(train=args.train)
    else:
        chosen = experiments.KNOWLEDGE_ADAPTERS if args.adapter is None else (args.adapter,)
        result = experiments.knowledge_experiment(train=args.train, train_adapters=chosen)
    if args.json:
        _print_json(result)
    else:
        table = result.get("compliance") or result.get("accuracy")
        for condition, value in table.items():
            print(f"{condition:>18}  {value:.1%}")
        print(
            f"adapter {result['adapter_bytes'] / 2**20:.1f} MB, trained {result['steps']} steps in "
            f"{result['train_seconds']:.0f} s; this run {result['seconds']:.0f} s, "
            f"peak {result['peak_mb']} MB"
        )
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from ragft.hybrid import ask

    if (args.question is None) == (args.questions is None):
        raise ValueError("give one QUESTION or --questions FILE.jsonl, not both and not neither")
    if args.docs is not None and args.version is not None:
        raise ValueError("--docs and --version exclude each other: --version picks Django's manual")
    if args.questions is not None:
        questions = ask.read_questions(args.questions)
    else:
        questions = [{"id": 1, "question": ask.check_question(args.question)}]
    answers = ask.answer_questions(
        questions, args.method, args.version or ask.DEFAULT_VERSION, args.docs, progress=True
    )
    for item in answers:
        if args.json or args.questions is not None:
            print(json.dumps(item, ensure_ascii=False))
            continue
        print(f"answer: {item['answer']}" + ("  (abstained)" if item["abstained"] else ""))
        print("cites:  " + (", ".join(item["citations"]) or "nothing"))
        for passage in item["passages"]:
            print(f"  [{passage['number']}] {', '.join(passage['sources'])}")
    return 0


def _knowledge_vs_behavior(args: argparse.Namespace) -> int:
    from ragft.tuning import knowledge_vs_behavior as kvb

    result = kvb.run_experiment(n_unseen=args.n_unseen, train=args.train)
    if args.save:
        kvb.save_record(result)
    if args.json:
        _print_json(
            {key: value for key, value in result.items() if key not in ("outputs", "scores", "questions")}
        )
        return 0
    pools = list(result["n"])
    print(f"{'accuracy':<24}" + "".join(f"{p} (n={result['n'][p]})".rjust(18) for p in pools) + "   format")
    for arm in kvb.ARMS:
        compliance = result["compliance"][arm]
        cells = "".join(f"{result['accuracy'][p][arm]:>18.1%}" for p in pools)
        print(f"{arm:<24}{cells}   {'n/a' if compliance is None else f'{compliance:.0%}'}")
    print(f"this run {result['cpu_seconds']:.0f} CPU-s, peak {result['peak_mb']} MB")
    return 0


_RAG_EVAL_OPTIONS = ("n_questions", "k", "seed", "n_not_in_store", "corpus")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (separate from main so tests can inspect it)."""
    parser = argparse.ArgumentParser(prog="python -m ragft", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    doctor = sub.add_parser("doctor", help="check the environment: [OK]/[FAIL] per component")
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    doctor.add_argument("--quick", action="store_true", help="skip the generation check")
    doctor.set_defaults(func=_cmd_doctor)

    models = sub.add_parser("models", help="prepare the offline models")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    prepare = models_sub.add_parser("prepare", help="convert the GGUF generator once into the cache")
    prepare.add_argument("--force", action="store_true", help="convert again even if cached")
    prepare.set_defaults(func=_cmd_models_prepare)

    data = sub.add_parser("data", help="the Django corpus and the evaluation sets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    fetch = data_sub.add_parser("fetch", help="download Django's sdists from the package registry")
    fetch.set_defaults(func=_cmd_data_fetch)
    build = data_sub.add_parser("build", help="parse the docs into sections and evaluation sets")
    build.add_argument("--out", help="write here instead of the committed data/ folder")
    build.set_defaults(func=_cmd_data_build)
    verify = data_sub.add_parser("verify", help="check every data file against the manifest")
    verify.set_defaults(func=_cmd_data_verify)

    decide = sub.add_parser("decide", help="the eight questions: RAG, fine-tuning, hybrid or prompting?")
    decide.add_argument(
        "--answers", help="a JSON file with the answers (without it, the questions are asked)"
    )
    decide.add_argument("--json", action="store_true", help="print the recommendation as JSON")
    decide.set_defaults(func=_cmd_decide)

    labs = sub.add_parser("labs", help="graded labs (otter-grader): student notebooks and grading")
    labs_sub = labs.add_subparsers(dest="labs_command", required=True)
    labs_sub.add_parser("build", help="regenerate labs/ from the masters in solutions/").set_defaults(
        func=_cmd_labs
    )
    labs_sub.add_parser("check", help="exit 1 if labs/ differs from a fresh otter assign").set_defaults(
        func=_cmd_labs
    )
    grade = labs_sub.add_parser(
        "grade", help="grade a notebook, or a folder of them, against the lab's hidden tests"
    )
    grade.add_argument("lab", help="the lab's name, e.g. lab_decision_audit")
    grade.add_argument("notebook", help="the notebook to grade, or a folder of notebooks (with --out)")
    grade.add_argument(
        "--timeout", type=float, default=300, help="seconds per notebook before it is stopped (default 300)"
    )
    grade.add_argument("--out", help="folder only: the CSV to write; feedback/ goes next to it")
    grade.set_defaults(func=_cmd_labs)
    release = labs_sub.add_parser("release", help="copy the course without solutions/ or hidden tests")
    release.add_argument("out_dir", help="a new or empty folder")
    release.set_defaults(func=_cmd_labs)

    notebook = sub.add_parser("notebook", help="run notebooks the way the committed ones were produced")
    notebook_sub = notebook.add_subparsers(dest="notebook_command", required=True)
    run = notebook_sub.add_parser("run", help="execute in place on one thread and write the measured header")
    run.add_argument("paths", nargs="+", help="notebook files")
    run.add_argument(
        "--threads", type=int, default=1, help="CPU threads for the kernel (default 1, as on Binder)"
    )
    run.add_argument(
        "--no-header", action="store_true", help="do not rewrite the measured figures in the header"
    )
    run.set_defaults(func=_cmd_notebook_run)

    from ragft.retrieval.fusion import FUSIONS
    from ragft.retrieval.retrieve import DEFAULT_FUSION, DEFAULT_WEIGHT, METHODS

    evaluate = sub.add_parser(
        "eval-retrieval", help="recall@k, MRR and nDCG@10 of bm25, dense or hybrid on a BEIR folder"
    )
    evaluate.add_argument("directory", help="a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    evaluate.add_argument("--method", choices=METHODS, default="hybrid", help="default: hybrid")
    evaluate.add_argument("--k", type=int, default=10, help="cutoff for the @k metrics (default 10)")
    evaluate.add_argument("--split", default="test", help="which qrels file to score (default test)")
    evaluate.add_argument("--fusion", choices=FUSIONS, default=DEFAULT_FUSION, help="hybrid only")
    evaluate.add_argument("--weight", type=float, default=DEFAULT_WEIGHT, help="hybrid only: dense's share")
    from ragft.retrieval.doc_scoring import DOC_SCORINGS
    from ragft.retrieval.doc_search import DEFAULT_SCORING, DEFAULT_VARIANT
    from ragft.retrieval.quantize import VARIANTS

    evaluate.add_argument(
        "--scoring",
        choices=DOC_SCORINGS,
        default=DEFAULT_SCORING,
        help="dense: a document's score from its chunks",
    )
    evaluate.add_argument(
        "--embedding",
        choices=("auto", *VARIANTS),
        default=DEFAULT_VARIANT,
        help="auto: bf16 where the CPU has it",
    )
    evaluate.add_argument(
        "--tune-embedder",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="tune MiniLM on the collection's own headings first (pages with a judged answer left out; "
        "cached). Default: only where the collection gives at least 500 headings and memory allows; "
        "at most 500 headings, about 2.3 CPU-minutes and 1.9 GB of memory. A tuned model's list is fused "
        "with the weights chosen for tuned models",
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(func=_cmd_eval_retrieval)

    from ragft.retrieval.retrieval_bench import COMMANDS as BENCH_COMMANDS

    bench = sub.add_parser(
        "bench",
        help="retrieval benchmarks: speed and scores (retrieval), the study behind the defaults (defaults), "
        "MiniLM against all-mpnet-base-v2 on the FAQ collections (embedders), MiniLM tuned on each "
        "collection's own headings (domain), the fusion chosen again for tuned models (tuned-defaults), "
        "its FAQ margins split by answers that only point elsewhere (pointers), "
        "or rebuild the dev and held-out collections (collections)",
    )
    bench.add_argument(
        "bench_command",
        choices=BENCH_COMMANDS,
        help="what to run",
    )
    bench.add_argument(
        "--save", action="store_true", help="write the committed record (notebook 04 reads it)"
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(func=_cmd_bench)

    from ragft.hybrid.ask import METHODS as ASK_METHODS
    from ragft.hybrid.ask import VERSIONS

    ask = sub.add_parser(
        "ask",
        help="answer a question with the system the course builds (closed-book, RAG or the hybrid)",
        description="Answer QUESTION (or every line of --questions) from Django's manual or your own "
        "documents. One JSON line per question with --json or --questions.",
    )
    ask.add_argument("question", nargs="?", help="the question (or use --questions)")
    ask.add_argument("--questions", help='a JSON-lines file, one {"id": ..., "question": ...} per line')
    ask.add_argument("--method", choices=ASK_METHODS, default="hybrid", help="default: hybrid")
    ask.add_argument("--version", choices=VERSIONS, help="which Django manual to search (default 5.2)")
    ask.add_argument("--docs", help="a folder of .txt/.md/.rst files to search instead of Django's manual")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.set_defaults(func=_cmd_ask)

    experiment = sub.add_parser(
        "experiment",
        help="measured experiments: knowledge vs behavior (notebook 01), RAG evaluation (05), LoRA (06), "
        "the hybrid and a reader that memorized facts (07)",
    )
    experiment.add_argument(
        "name",
        choices=(
            "knowledge-vs-behavior",
            "hybrid",
            "memorized",
            "rag-eval",
            "lora-behavior",
            "lora-knowledge",
        ),
        help="which experiment",
    )
    kvb = experiment.add_argument_group("knowledge-vs-behavior and hybrid")
    kvb.add_argument("--n-unseen", type=int, help="unseen facts asked (kind-stratified sample; unset: all)")
    kvb.add_argument(
        "--save",
        action="store_true",
        help="write the result as the committed record (knowledge-vs-behavior: read by notebooks 01 and 06; "
        "hybrid and memorized: by notebook 07)",
    )
    rag = experiment.add_argument_group("rag-eval only (unset: notebook 05's values)")
    rag.add_argument("--n-questions", type=int, help="fact questions asked (test split, seeded; 32)")
    rag.add_argument("--k", type=int, help="chunks put in the prompt (3)")
    rag.add_argument("--seed", type=int, help="seed for the question sample (0)")
    rag.add_argument("--n-not-in-store", type=int, help="questions whose answer is in no document (10)")
    rag.add_argument("--corpus", choices=("full", "mini"), help="which 5.2 corpus to index (full)")
    experiment.add_argument(
        "--train",
        action="store_true",
        help="train the adapter again into data/adapters/ first (slow: several minutes on one thread); "
        "lora-knowledge trains both knowledge adapters, QA-tuned and document-tuned",
    )
    experiment.add_argument(
        "--adapter",
        choices=("knowledge", "documents"),
        help="lora-knowledge --train only: retrain just this adapter (knowledge: QA-tuned, documents: "
        "document-tuned; unset: both)",
    )
    experiment.add_argument("--json", action="store_true", help="print one JSON object")
    experiment.set_defaults(func=_cmd_experiment)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for `python -m ragft` and the `ragft` script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as exc:  # clear errors, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
