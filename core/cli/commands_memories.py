"""The handlers of `persona memories ...` (search, list (filtered), edit, forget, stats) and
of `persona names ...` (the names redaction replaces)."""

from __future__ import annotations

from argparse import Namespace

from persona.core.cli import report
from persona.core.cli.commands import _pipeline
from persona.core.cli.report import emit_json
from persona.core.memory import browse
from persona.core.memory.stats import emotion_stats


def cmd_memories_search(args: Namespace) -> int:
    hits = _pipeline(args).search(args.query, k=args.k, mode=args.mode)
    if args.json:
        emit_json({"query": args.query, "mode": args.mode,
                   "hits": [report.hit_dict(h) for h in hits]})
    else:
        for h in hits:
            print(report.memory_line(h.memory, h.score))
        if not hits:
            print("No memories match.")
    return 0


def cmd_memories_list(args: Namespace) -> int:
    store = _pipeline(args).store
    flt = browse.BrowseFilter(source=args.source, emotion=args.emotion, since=args.since,
                              until=args.until)
    page = browse.page(store, flt, limit=args.limit, offset=args.offset)
    if args.json:
        emit_json({"total": page.total, "offset": page.offset,
                   "memories": [report.memory_dict(m) for m in page.memories]})
    else:
        for m in page.memories:
            print(report.memory_line(m))
        print(f"({len(page.memories)} shown of {page.total})")
    return 0


def cmd_memories_edit(args: Namespace) -> int:
    memory = _pipeline(args).edit_memory(args.id, args.text)
    if args.json:
        emit_json({"edited": report.memory_dict(memory)})
    else:
        print(f"Saved {memory.id}: {memory.text[:70]}")
    return 0


def cmd_memories_forget(args: Namespace) -> int:
    forgotten = _pipeline(args).forget(args.ids)
    if args.json:
        emit_json({"forgotten": [m.id for m in forgotten],
                   "recordings_deleted": sum(1 for m in forgotten if m.audio_path)})
    else:
        for m in forgotten:
            print(f"Forgot {m.id}: {m.text[:70]}")
    return 0


cmd_memories_delete = cmd_memories_forget


def cmd_memories_stats(args: Namespace) -> int:
    stats = emotion_stats(_pipeline(args).store)
    if args.json:
        emit_json(stats.to_dict())
        return 0
    if not stats.days:
        print("No memories of yours yet: talk, type or import some first.")
        return 0
    print(f"{'day':<10}  {'n':>4}  {'valence':>7}  {'arousal':>7}  labels")
    for d in stats.days:
        labels = ", ".join(f"{k} {v}" for k, v in d.labels.items())
        print(f"{d.day:%Y-%m-%d}  {d.count:>4}  {d.valence:>+7.2f}  {d.arousal:>7.2f}  {labels}")
    print(f"({stats.total} memories over {len(stats.days)} days)")
    return 0


def cmd_names_suggest(args: Namespace) -> int:
    from persona.core.names import suggest
    from persona.core.paths import Home

    found = suggest(Home.resolve(args.home).ensure(), min_count=args.min_count)
    if args.json:
        emit_json({"candidates": [{"name": c.name, "count": c.count} for c in found]})
    elif found:
        for c in found:
            print(f"{c.name}  (seen {c.count} times)")
        print("Confirm the real names with `persona names confirm NAME...`.")
    else:
        print("No new names found in your memories.")
    return 0


def cmd_names_confirm(args: Namespace) -> int:
    from persona.core.names import confirm
    from persona.core.paths import Home

    names = confirm(Home.resolve(args.home).ensure(), args.names)
    if args.json:
        emit_json({"redact_names": names})
    else:
        print(f"Redaction now replaces {len(names)} names: {', '.join(names)}.")
    return 0


def cmd_names_list(args: Namespace) -> int:
    from persona.core.names import listed
    from persona.core.paths import Home

    names = listed(Home.resolve(args.home).ensure())
    if args.json:
        emit_json({"redact_names": names})
    else:
        print("\n".join(names) if names else "No names listed; see `persona names suggest`.")
    return 0
