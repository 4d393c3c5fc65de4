"""The README and docs/ hold together (issue 26): every relative link resolves (the file, and a `#anchor`'s
heading by GitHub's slug), every environment variable the settings read is documented in docs/, every docs
page links back to the index, the README stays short enough for a newcomer, and what they name is real: the
`make` targets, the repository's files, and the README's endpoints."""

import ast
import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_MAX_LINES = 400
# Where the settings are read from the environment: Django's settings and gunicorn's (the Procfile's web).
SETTINGS_FILES = ("kilopush/settings.py", "kilopush/gunicorn_conf.py", "kilopush/gunicorn_worker.py")

LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def pages():
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def prose_lines(text):
    """The lines outside fenced code blocks, with inline code blanked (a link there is not a link)."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield re.sub(r"`[^`]*`", lambda code: " " * len(code.group()), line)


def github_slug(heading):
    """GitHub's anchor for a heading: markup gone, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = re.sub(r"<[^>]+>", "", text).lower()
    kept = (c for c in text if c in " -" or unicodedata.category(c)[0] in "LMN" or unicodedata.category(c) == "Pc")
    return "".join(kept).replace(" ", "-")


def anchors(path):
    """Every heading's slug in a Markdown file, a repeated one numbered as GitHub does (-1, -2, …)."""
    seen, slugs = {}, set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            slug = github_slug(match.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            slugs.add(slug if count == 0 else f"{slug}-{count}")
    return slugs


def broken_links(path):
    problems = []
    for number, line in enumerate(prose_lines(path.read_text(encoding="utf-8")), 1):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: …: not ours to check
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                problems.append(f"{path.name}: {target} (no file {linked})")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{path.name}: {target} (no heading #{anchor} in {linked.name})")
    return problems


def settings_read(source):
    """The environment variables a settings file reads: os.getenv / os.environ.get / os.environ[...] with a
    literal name, and the file's own helpers (envbool, envint, …: any function that passes its argument to
    os.getenv) called with one."""
    tree = ast.parse(source)

    def is_env_read(call):
        func = call.func
        return isinstance(func, ast.Attribute) and (
            (func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os")
            or (func.attr == "get" and isinstance(func.value, ast.Attribute) and func.value.attr == "environ"))

    def is_helper_call(call, helpers):
        return isinstance(call.func, ast.Name) and call.func.id in helpers

    helpers, grown = set(), True
    while grown:  # envint -> _envnumber -> os.getenv: a helper may read through another helper
        grown = False
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name not in helpers and any(
                    isinstance(call, ast.Call) and (is_env_read(call) or is_helper_call(call, helpers))
                    and call.args and not isinstance(call.args[0], ast.Constant) for call in ast.walk(node)):
                helpers.add(node.name)
                grown = True
    names = set()
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            if is_env_read(node) or is_helper_call(node, helpers):
                name = node.args[0].value
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                and isinstance(node.value, ast.Attribute) and node.value.attr == "environ" \
                and isinstance(node.slice, ast.Constant):
            name = node.slice.value
        if isinstance(name, str):
            names.add(name)
    return names


def make_targets_named(text):
    """`make X` in inline code, and `make X` at the start of a line in a code block."""
    named = set(re.findall(r"`make ([a-z][\w-]*)", text))
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif fenced:
            named.update(re.findall(r"^\s*make ([a-z][\w-]*)", line))
    return named


def repository_paths_named(text):
    """Paths in inline code whose first folder is one of the repository's (`messaging/delivery.py:render`,
    `tests/fakes/`); run-time folders (var/) are not in the repository."""
    folders = {entry.name for entry in ROOT.iterdir() if entry.is_dir() and not entry.name.startswith(".")} - {"var"}
    for token in re.findall(r"`([^`\s]+)`", text):
        match = re.match(r"^([\w.-]+(?:/[\w.-]+)+/?)(?::[\w.]+)?$", token)
        if match and match.group(1).split("/")[0] in folders:
            yield match.group(1)


def path_exists(path):
    app, _, number = path.partition("/")
    if re.fullmatch(r"\d{4}", number):  # a migration by its number: users_app/0007
        return any((ROOT / app / "migrations").glob(f"{number}_*.py"))
    return (ROOT / path).exists()


def documented(name, text):
    return re.search(rf"(?<![A-Z0-9_]){re.escape(name)}(?![A-Z0-9_])", text) is not None


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move the reference to docs/"


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    problems = broken_links(page)
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_every_setting_read_is_documented_in_docs():
    docs = "".join(page.read_text(encoding="utf-8") for page in DOCS.glob("*.md"))
    read = set().union(*(settings_read((ROOT / name).read_text(encoding="utf-8")) for name in SETTINGS_FILES))
    assert len(read) > 100, read  # the parser still finds the settings (about 130 today)
    missing = sorted(name for name in read if not documented(name, docs))
    assert not missing, f"read in {', '.join(SETTINGS_FILES)} but in no docs/*.md: {missing}"


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_make_target_named_exists(page):
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    assert make_targets_named(page.read_text(encoding="utf-8")) - targets == set()


@pytest.mark.parametrize("page", pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_repository_path_named_exists(page):
    missing = sorted({path for path in repository_paths_named(page.read_text(encoding="utf-8"))
                      if not path_exists(path)})
    assert not missing, f"{page.name} names files that are not in the repository: {missing}"


def test_the_readmes_endpoints_exist():
    from django.urls import Resolver404, resolve

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    paths = set(re.findall(r"(?:(?<![\w.])|(?<=\$API))(/(?:v1|healthz|metrics|docs|admin)\b[\w/-]*)(?![…/\w-])", text))
    assert {"/v1/messages/send", "/v1/app/register", "/v1/app/channels", "/v1/app/messages"} <= paths
    unknown = []
    for path in sorted(paths):
        try:
            resolve(path)
        except Resolver404:
            unknown.append(path)
    assert not unknown, f"README.md names endpoints the URL configuration does not have: {unknown}"


def test_every_docs_page_is_in_the_index_and_links_back_to_it():
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.name == "README.md":
            continue
        assert f"]({page.name})" in index, f"{page.name} is missing from docs/README.md"
        assert "](README.md)" in "\n".join(page.read_text(encoding="utf-8").splitlines()[:5]), \
            f"{page.name} does not link back to docs/README.md near its top"


def test_the_checks_catch_a_broken_link_and_an_undocumented_setting(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## Running several nodes\n")
    page.write_text("# Page\n\n[ok](other.md#running-several-nodes) [gone](missing.md) [bad](other.md#sizing)\n"
                    "`[in code](missing.md)` [site](https://example.org/x.md)\n")
    assert [problem.split(" ")[1] for problem in broken_links(page)] == ["missing.md", "other.md#sizing"]
    source = ('import os\ndef _number(name, default):\n    return float(os.getenv(name, default))\n'
              'def envint(name, default):\n    return int(_number(name, default))\n'
              'A = envint("KILOPUSH_A", 1)\nB = os.environ.get("KILOPUSH_B")\nC = os.environ["KILOPUSH_C"]\n'
              'os.environ["KILOPUSH_D"] = "written, not read"\n')
    assert settings_read(source) == {"KILOPUSH_A", "KILOPUSH_B", "KILOPUSH_C"}
    assert not documented("KILOPUSH_A", "KILOPUSH_AB and X_KILOPUSH_A")
    named = make_targets_named("`make run` and `make nothing`\n```sh\nmake bench X=1\n```\n")
    assert named == {"run", "nothing", "bench"}
    assert set(repository_paths_named("`messaging/delivery.py:render` `var/x.db` `providers/log.py`")) == \
        {"messaging/delivery.py"}
    assert path_exists("users_app/0001") and not path_exists("users_app/9999")


def test_github_slugs():
    assert github_slug("Live stream: `GET /v1/app/stream`") == "live-stream-get-v1appstream"
    assert github_slug("Code map: where each published rule is decided (one place each)") == \
        "code-map-where-each-published-rule-is-decided-one-place-each"
    assert github_slug("Emergency messages (`priority: 2`)") == "emergency-messages-priority-2"
