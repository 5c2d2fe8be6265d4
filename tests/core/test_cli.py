"""The `persona` command line: settings, errors and exit codes (no models needed)."""

from __future__ import annotations

import json

import pytest

from persona.core.cli import build_parser, main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_documented_command_parses():
    ap = build_parser()
    # The demo has its own folder (--dir), never the person's --home (issue 8, leak 2).
    assert ap.parse_args(["demo", "--json", "--dir", "/tmp/d"]).dir == "/tmp/d"
    for argv in (["ingest", "a.md", "b.wav"], ["listen", "--once"],
                 ["hear", "x.wav"], ["ask", "hi", "--speak", "--wav", "o.wav"],
                 ["memories", "search", "q"], ["memories", "list"], ["memories", "delete", "x"],
                 ["profile", "show"], ["profile", "induce"], ["devices"],
                 ["settings", "show"], ["settings", "set", "tts_rate", "150"],
                 ["remember", "a note"]):
        args = ap.parse_args([*argv, "--home", "/tmp/x"])
        assert args.home == "/tmp/x"


def test_settings_set_show_and_reset(home, capsys):
    code, out, _ = run(capsys, "settings", "set", "tts_rate", "150", "--home", str(home))
    assert code == 0 and "150" in out
    code, out, _ = run(capsys, "settings", "show", "--json", "--home", str(home))
    assert json.loads(out)["tts_rate"] == 150
    assert "tts_rate: 150" in (home / "settings.yaml").read_text()
    run(capsys, "settings", "set", "tts_rate", "default", "--home", str(home))
    code, out, _ = run(capsys, "settings", "show", "--json", "--home", str(home))
    assert json.loads(out)["tts_rate"] == 175


@pytest.mark.parametrize("key,value,needle", [
    ("no_such_setting", "1", "unknown setting 'no_such_setting'"),
    ("tts_rate", "5000", "tts_rate='5000' is not valid"),
    ("llm_backend", "tensorflow", "llm_backend='tensorflow' is not valid"),
])
def test_bad_setting_is_a_clear_error_and_changes_nothing(home, capsys, key, value, needle):
    run(capsys, "settings", "set", "tts_rate", "160", "--home", str(home))
    before = (home / "settings.yaml").read_text()
    code, _, err = run(capsys, "settings", "set", key, value, "--home", str(home))
    assert code == 2 and needle in err
    assert (home / "settings.yaml").read_text() == before


def test_corrupt_settings_file_names_the_file(home, capsys):
    (home / "settings.yaml").write_text("tts_rate: [unclosed\n")
    code, _, err = run(capsys, "settings", "show", "--home", str(home))
    assert code == 2 and "settings.yaml is not valid YAML" in err


def test_home_before_a_nested_subcommand_is_kept():
    """`persona privacy --home X budget 5`: the subcommand must not reset --home."""
    from persona.core.cli import build_parser

    parser = build_parser()
    for argv, home, as_json in ((["privacy", "--home", "X", "budget", "5"], "X", False),
                                (["privacy", "budget", "5", "--home", "Y"], "Y", False),
                                (["privacy", "--json", "budget", "5"], None, True),
                                (["privacy", "budget", "5"], None, False)):
        args = parser.parse_args(argv)
        assert (args.home, args.json, args.epsilon) == (home, as_json, 5.0), argv
