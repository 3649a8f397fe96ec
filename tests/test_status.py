"""One status vocabulary: core.engine.status.Status, never the bare words, wherever a status is compared or written."""

import ast
import json

from core.engine.status import Status
from tests.lab_helpers import APP, REPO

WORDS = {status.value for status in Status}


def test_a_status_is_saved_and_compared_as_its_plain_word():
    assert json.dumps({"status": Status.FINISHED}) == '{"status": "finished"}'
    assert Status("stopped") is Status.STOPPED and Status.STOPPED == "stopped"
    assert {s for s in Status if s.active} == {Status.QUEUED, Status.RUNNING, Status.PAUSED}
    assert {s for s in Status if s.ended} == {Status.FINISHED, Status.STOPPED, Status.DIVERGED, Status.FAILED}


def _bare_status_words(tree: ast.AST) -> list[int]:
    """Lines where a status word is compared, used as a dict key, or passed as status=."""
    def is_word(node) -> bool:
        return isinstance(node, ast.Constant) and node.value in WORDS

    lines = []
    for node in ast.walk(tree):
        compared = isinstance(node, ast.Compare) and any(is_word(n) for n in (node.left, *node.comparators))
        keyed = isinstance(node, ast.Dict) and any(is_word(k) for k in node.keys if k is not None)
        if compared or keyed:
            lines.append(node.lineno)
        elif isinstance(node, ast.keyword) and node.arg == "status" and is_word(node.value):
            lines.append(node.value.lineno)
    return lines


def test_no_module_compares_or_writes_a_status_as_a_bare_word():
    sources = [*REPO.glob("core/**/*.py"), *REPO.glob("pages/**/*.py"), APP]
    found = {str(p.relative_to(REPO)): _bare_status_words(ast.parse(p.read_text())) for p in sources}
    assert {path: lines for path, lines in found.items() if lines} == {}
