"""The handler of `persona topics`: what Persona can answer well, topic by topic."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace

from persona.core.cli.report import emit_json, info


def add_parser(sub) -> None:
    """`persona topics [--json] [--perplexity] [--qa N] [--max-topics K]`."""
    from persona.core.cli import _common

    p: ArgumentParser = sub.add_parser(
        "topics", help="what Persona can answer well: your memories grouped into topics")
    _common(p, json_flag=True)
    p.add_argument("--max-topics", type=int, default=8, metavar="K",
                   help="at most this many topics (default 8; fewer when that fits better)")
    p.add_argument("--perplexity", action="store_true",
                   help="also the persona's perplexity on each topic's held-out records "
                        "(loads the language model: slower)")
    p.add_argument("--qa", type=int, default=0, metavar="N",
                   help="also ask up to N questions per topic made from its memories and "
                        "report how many were answered right (runs the model: slow)")


def cmd_topics(args: Namespace) -> int:
    from persona.core.cli.commands import _pipeline
    from persona.core.errors import SettingsError
    from persona.core.evaluate.topic_scores import topic_perplexity, topic_qa
    from persona.core.memory.topics import TopicOptions, store_topics

    if args.max_topics < 2:
        raise SettingsError(f"--max-topics must be at least 2, not {args.max_topics}.")
    if args.qa < 0:
        raise SettingsError(f"--qa is a number of questions per topic, 0 or more, not "
                            f"{args.qa}.")
    pipe = _pipeline(args)
    report = store_topics(pipe.store, TopicOptions(max_topics=args.max_topics))
    log = None if args.json else info
    if args.perplexity and report.topics:
        topic_perplexity(pipe, report, log=log)
    if args.qa and report.topics and not topic_qa(pipe, report, per_topic=args.qa, log=log):
        info("QA accuracy per topic needs core/evaluate/memory_qa.py, which is missing.")
    if args.json:
        emit_json(report.to_dict())
        return 0
    print(report.summary())
    for t in report.topics:
        print(f"- {t.sentence(report.total)}")
        for example in t.examples:
            print(f"    e.g. {example}")
    return 0
