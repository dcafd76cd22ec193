"""The engine's JSON stream -> layer states (``credhelper.engine.StreamParser``), the plain
renderer and the helpers around them, fed with stream lines recorded from dockerd 20.10."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from credhelper.ecr_repository import levenshtein, nearest_tags
from credhelper.engine import StreamParser, docker_endpoint, iter_json
from credhelper.errors import ConfigError
from credhelper.progress import NullRenderer, PlainRenderer, human_size, make_renderer

DIGEST = "sha256:cbc5cf3221d8b9d986ebaec44b565a8481716405e94ffd1482e5f4b4b9ba6bda"

# dockerd 20.10.24 pushing a 3-layer image: one uploaded, one mounted, one already there.
PUSH = [
    '{"status":"The push refers to repository [127.0.0.1:44515/app]"}',
    '{"status":"Preparing","progressDetail":{},"id":"5f6b2fe064a2"}',
    '{"status":"Preparing","progressDetail":{},"id":"aa11bb22cc33"}',
    '{"status":"Preparing","progressDetail":{},"id":"dd44ee55ff66"}',
    '{"status":"Waiting","progressDetail":{},"id":"5f6b2fe064a2"}',
    '{"status":"Mounted from team/base","progressDetail":{},"id":"aa11bb22cc33"}',
    '{"status":"Layer already exists","progressDetail":{},"id":"dd44ee55ff66"}',
    '{"status":"Pushing","progressDetail":{"current":34304,"total":3000042},'
    '"progress":"[>   ]   34.3kB/3MB","id":"5f6b2fe064a2"}',
    '{"status":"Pushing","progressDetail":{"current":2360832,"total":3000042},'
    '"progress":"[===>  ]  2.361MB/3MB","id":"5f6b2fe064a2"}',
    '{"status":"Pushing","progressDetail":{"current":3010560,"total":3000042},'
    '"progress":"[=====>]  3.011MB","id":"5f6b2fe064a2"}',
    '{"status":"Pushed","progressDetail":{},"id":"5f6b2fe064a2"}',
    f'{{"status":"v1: digest: {DIGEST} size: 527"}}',
    f'{{"progressDetail":{{}},"aux":{{"Tag":"v1","Digest":"{DIGEST}","Size":527}}}}',
]

PULL = [
    '{"status":"Pulling from app","id":"v1"}',
    '{"status":"Pulling fs layer","progressDetail":{},"id":"b243f28ec18e"}',
    '{"status":"Already exists","progressDetail":{},"id":"0123456789ab"}',
    '{"status":"Downloading","progressDetail":{"current":36445,"total":3001234},'
    '"progress":"[>   ]  36.45kB/3.001MB","id":"b243f28ec18e"}',
    '{"status":"Downloading","progressDetail":{"current":3001234,"total":3001234},'
    '"progress":"[=====>]  3.001MB/3.001MB","id":"b243f28ec18e"}',
    '{"status":"Verifying Checksum","progressDetail":{},"id":"b243f28ec18e"}',
    '{"status":"Download complete","progressDetail":{},"id":"b243f28ec18e"}',
    '{"status":"Extracting","progressDetail":{"current":32768,"total":3001234},'
    '"progress":"[>   ]  32.77kB/3.001MB","id":"b243f28ec18e"}',
    '{"status":"Extracting","progressDetail":{"current":3001234,"total":3001234},'
    '"progress":"[=====>]  3.001MB/3.001MB","id":"b243f28ec18e"}',
    '{"status":"Pull complete","progressDetail":{},"id":"b243f28ec18e"}',
    f'{{"status":"Digest: {DIGEST}"}}',
    '{"status":"Status: Downloaded newer image for 127.0.0.1:44515/app:v1"}',
]

PULL_UP_TO_DATE = [
    '{"status":"Pulling from app","id":"v1"}',
    f'{{"status":"Digest: {DIGEST}"}}',
    '{"status":"Status: Image is up to date for 127.0.0.1:44515/app:v1"}',
]

PUSH_ERROR = [
    '{"status":"The push refers to repository [127.0.0.1:44515/app]"}',
    '{"status":"Preparing","progressDetail":{},"id":"f2019103b2b7"}',
    '{"errorDetail":{"message":"unauthorized: authentication required"},'
    '"error":"unauthorized: authentication required"}',
]


def feed(operation: str, lines: list[str]) -> StreamParser:
    ticks = iter(range(1000))
    parser = StreamParser(operation, clock=lambda: float(next(ticks)))
    parser.feed_all(json.loads(line) for line in lines)
    return parser


def plain(operation: str, lines: list[str]) -> list[str]:
    out = io.StringIO()
    renderer = PlainRenderer(out)
    parser = StreamParser(operation)
    for line in lines:
        for change in parser.feed(json.loads(line)):
            renderer.change(change)
    renderer.close()
    return out.getvalue().splitlines()


# -- parsing ------------------------------------------------------------------------------------

def test_push_stream_gives_results_digest_and_bytes() -> None:
    p = feed("push", PUSH)
    assert list(p.layers) == ["5f6b2fe064a2", "aa11bb22cc33", "dd44ee55ff66"]
    assert p.counts() == {"total": 3, "pushed": 1, "mounted": 1, "skipped": 1,
                          "downloaded": 0, "already_present": 0}
    assert p.layers["aa11bb22cc33"].mounted_from == "team/base"
    pushed = p.layers["5f6b2fe064a2"]
    assert pushed.bytes == 3010560  # the most the engine reported sending
    assert pushed.speed is not None and pushed.speed > 0
    assert p.digest == DIGEST and p.manifest_size == 527
    assert p.bytes_transferred == 3010560
    assert p.error is None and p.up_to_date is None


def test_push_digest_from_the_status_line_when_no_aux() -> None:
    p = feed("push", PUSH[:-1])
    assert p.digest == DIGEST and p.manifest_size == 527


def test_pull_stream_ignores_the_tag_line_and_counts_layers() -> None:
    p = feed("pull", PULL)
    assert "v1" not in p.layers  # "Pulling from app" carries the tag as id
    assert p.counts()["downloaded"] == 1 and p.counts()["already_present"] == 1
    assert p.counts()["total"] == 2
    layer = p.layers["b243f28ec18e"]
    assert layer.bytes == 3001234  # downloaded, not extracted, bytes count
    assert layer.result == "downloaded" and layer.status == "Pull complete"
    assert p.digest == DIGEST and p.up_to_date is False


def test_pull_up_to_date() -> None:
    p = feed("pull", PULL_UP_TO_DATE)
    assert p.layers == {} and p.up_to_date is True and p.digest == DIGEST


def test_error_detail_is_recorded_as_one_line() -> None:
    parser = StreamParser("push")
    changes = parser.feed_all(json.loads(line) for line in PUSH_ERROR)
    assert changes[-1].kind == "error"
    assert parser.error == "unauthorized: authentication required"
    multi = StreamParser("pull")
    multi.feed({"error": "a\n  b", "errorDetail": {}})
    assert multi.error == "a b"


def test_changes_distinguish_new_states_from_progress_ticks() -> None:
    parser = StreamParser("push")
    kinds = [c.kind for line in PUSH for c in parser.feed(json.loads(line))]
    # message, 3x Preparing, Waiting, Mounted, exists, Pushing, 2 ticks, Pushed, 2 messages
    assert kinds == ["message", "status", "status", "status", "status", "status", "status",
                     "status", "progress", "progress", "status", "message", "message"]


def test_junk_events_are_ignored() -> None:
    parser = StreamParser("push")
    for junk in (None, [], "text", {}, {"status": 3}, {"status": ""}, {"progressDetail": {}}):
        assert parser.feed(junk) == []
    bad_detail = parser.feed({"status": "Pushing", "id": "x", "progressDetail": "nope"})
    assert bad_detail[0].layer is not None and bad_detail[0].layer.bytes == 0
    with pytest.raises(ValueError):
        StreamParser("copy")


@pytest.mark.parametrize("size", [1, 2, 7, 64, 10_000])
def test_iter_json_survives_any_chunking(size: int) -> None:
    data = "\r\n".join([*PUSH, '{"status":"caf\u00e9 \u2713"}']).encode() + b"\r\n"
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    events = list(iter_json(chunks))
    assert len(events) == len(PUSH) + 1
    assert events[-1] == {"status": "caf\u00e9 \u2713"}
    assert list(iter_json([b'{"a": 1}{"b": 2}', b"", b'{"c"'])) == [{"a": 1}, {"b": 2}]


# -- rendering ------------------------------------------------------------------------------------

def test_plain_push_prints_one_line_per_state_change() -> None:
    assert plain("push", PUSH) == [
        "5f6b2fe064a2: Preparing",
        "aa11bb22cc33: Preparing",
        "dd44ee55ff66: Preparing",
        "5f6b2fe064a2: Waiting",
        "aa11bb22cc33: Mounted from team/base",
        "dd44ee55ff66: Layer already exists",
        "5f6b2fe064a2: Pushing",
        "5f6b2fe064a2: Pushed (3.0 MB)",
    ]


def test_plain_pull_lines() -> None:
    assert plain("pull", PULL) == [
        "b243f28ec18e: Pulling fs layer",
        "0123456789ab: Already exists",
        "b243f28ec18e: Downloading",
        "b243f28ec18e: Verifying Checksum",
        "b243f28ec18e: Download complete",
        "b243f28ec18e: Extracting",
        "b243f28ec18e: Pull complete (3.0 MB)",
    ]
    assert plain("pull", PULL_UP_TO_DATE) == []


def test_make_renderer_picks_by_tty_and_quiet() -> None:
    assert isinstance(make_renderer(io.StringIO()), PlainRenderer)
    assert isinstance(make_renderer(io.StringIO(), quiet=True), NullRenderer)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    renderer = make_renderer(tty)
    assert type(renderer).__name__ == "RichRenderer"
    parser = StreamParser("push")
    for line in PUSH:
        for change in parser.feed(json.loads(line)):
            renderer.change(change)
    renderer.close()
    assert "5f6b2fe064a2" in tty.getvalue() and "Pushed" in tty.getvalue()


@pytest.mark.parametrize(("n", "text"), [
    (None, "?"), (0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (12_345_678, "12.3 MB"),
    (3_000_000_000, "3.0 GB"), (5 * 10**15, "5000.0 TB"),
])
def test_human_size(n: int | None, text: str) -> None:
    assert human_size(n) == text


# -- helpers --------------------------------------------------------------------------------------

def test_levenshtein_and_nearest_tags() -> None:
    assert levenshtein("", "abc") == 3 and levenshtein("kitten", "sitting") == 3
    tags = ["v1.0", "v1.1", "v1.2", "v1.10", "latest", "nightly-2024", "release", "v1.3"]
    near = nearest_tags("v1.3", tags)
    assert "v1.3" not in near and len(near) == 5
    assert near[:3] == ["v1.0", "v1.1", "v1.2"]
    assert nearest_tags("lates", ["latest", "v1"])[0] == "latest"
    assert nearest_tags("x", []) == []


def _context(config_dir: Path, name: str, host: str) -> None:
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps(
        {"Name": name, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}))


def test_docker_endpoint_follows_the_cli_precedence(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path), "HOME": str(tmp_path)}
    assert docker_endpoint(env).host is None  # no config: the SDK default socket
    _context(tmp_path, "remote", "tcp://10.0.0.1:2376")
    _context(tmp_path, "other", "unix:///run/other.sock")
    (tmp_path / "config.json").write_text('{"currentContext": "remote"}')
    ep = docker_endpoint(env)
    assert (ep.host, ep.context) == ("tcp://10.0.0.1:2376", "remote")
    assert docker_endpoint({**env, "DOCKER_CONTEXT": "other"}).host == "unix:///run/other.sock"
    assert docker_endpoint({**env, "DOCKER_CONTEXT": "default"}).host is None
    ep = docker_endpoint({**env, "DOCKER_HOST": "unix:///x.sock", "DOCKER_CONTEXT": "other"})
    assert (ep.host, ep.source) == ("unix:///x.sock", "DOCKER_HOST")
    with pytest.raises(ConfigError, match="docker context 'gone'"):
        docker_endpoint({**env, "DOCKER_CONTEXT": "gone"})
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read docker config"):
        docker_endpoint(env)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_line_is_shown_and_erased_on_a_terminal_only() -> None:
    from credhelper.progress import StatusLine

    tty = _Tty()
    with StatusLine(tty, "checking permissions"):
        assert tty.getvalue() == "checking permissions\u2026"
    assert tty.getvalue().endswith("\r\x1b[K")  # erased: the next output starts clean
    for stream, quiet in ((io.StringIO(), False), (_Tty(), True)):  # a pipe / a CI log; --quiet
        with StatusLine(stream, "checking permissions", quiet=quiet):
            pass
        assert stream.getvalue() == ""
