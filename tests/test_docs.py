"""The front door and the documentation site: the README stays short and its links hold, `make test` builds the site
strictly (mkdocs checks the links between its pages), and the hosts page names every setting the lab reads."""

import re

from tests.lab_helpers import APP, REPO

README = REPO / "README.md"
HOSTS_PAGE = REPO / "docs" / "hosts.md"


def test_the_readme_is_a_front_door():
    """What the lab is, the screen, the two commands and where to read on: about 150 lines at most."""
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    assert "make app " in text and "make test " in text


def test_the_readmes_relative_links_resolve():
    """mkdocs checks the site's links; the README is outside it, so its own links are checked here."""
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    local = [target for target in targets if "://" not in target]
    assert local, "the README points to the documentation"
    assert [target for target in local if not (REPO / target).exists()] == []


def test_make_test_builds_the_documentation_strictly_before_pytest():
    makefile = (REPO / "Makefile").read_text()
    (prerequisites,) = re.findall(r"^test: (.*)$", makefile, re.M)
    assert "docs" in prerequisites.split()
    (recipe,) = re.findall(r"^docs: .*\n\t(.*)$", makefile, re.M)
    assert "mkdocs build --strict" in recipe
    assert re.search(r"^mkdocs-material==", (REPO / "requirements-dev.txt").read_text(), re.M)


def test_the_hosts_page_names_every_setting_the_lab_reads():
    code = [REPO / "launch.py", APP, *REPO.glob("core/**/*.py"), *REPO.glob("pages/**/*.py")]
    settings = {name for path in code for name in re.findall(r"MNIST_LAB_[A-Z_]*[A-Z]", path.read_text())}
    assert settings, "the lab reads its settings from MNIST_LAB_* variables"
    assert sorted(settings - set(re.findall(r"MNIST_LAB_[A-Z_]*[A-Z]", HOSTS_PAGE.read_text()))) == []


def test_every_file_the_documentation_names_exists():
    """A module renamed or moved without its pages updated fails here (the README said core/views/curves.py for a
    while after it had moved to core/engine)."""
    pages = [README, *sorted((REPO / "docs").glob("*.md"))]
    file_path = re.compile(r"\b(?:core|pages|tests|benchmarks)/[\w/]+\.(?:py|css|md|toml|json)\b")
    named = {path for page in pages for path in file_path.findall(page.read_text())}
    assert named
    assert sorted(path for path in named if not (REPO / path).exists()) == []
