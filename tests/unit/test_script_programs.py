"""Issue 13: every program the scripts and test harnesses run is installed by them.

The scripts are parsed (not run): every command word of every shell script, and every program
that the tests start with subprocess or a pty, must come from a package in Debian's required
set (there on every Debian 12 system) or from a package that the scripts responsible for it
install with `ensure_packages` (or the demo's `need+=(...)`). A program this test does not
know fails it, with the package to name.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Debian 12's Essential and Priority: required packages (`mmdebstrap --variant=required`).
REQUIRED_NAMES = """apt base-files base-passwd bash bsdutils coreutils dash debconf debianutils
    diffutils dpkg e2fsprogs findutils grep gzip hostname init-system-helpers libc-bin login mawk
    mount ncurses-base ncurses-bin passwd perl-base sed sensible-utils sysvinit-utils tar tzdata
    util-linux"""
REQUIRED = frozenset(REQUIRED_NAMES.split())

# The Debian package of every program the scripts and tests run.
PROGRAMS_OF = {
    "coreutils": "basename cat chmod chown cp cut date dd dirname echo env head id install ln ls"
    " mkdir mktemp mv nohup nproc printf readlink realpath rm seq sha256sum sleep sort stat tail"
    " tee timeout touch tr true uname wc yes",
    "bash": "bash",
    "dash": "sh",
    "grep": "grep",
    "sed": "sed",
    "mawk": "awk",
    "findutils": "find xargs",
    "tar": "tar",
    "gzip": "gzip",
    "dpkg": "dpkg dpkg-deb dpkg-query",
    "apt": "apt-get apt-cache",
    "passwd": "useradd usermod",
    "libc-bin": "getent",
    "mount": "mount umount losetup",
    "util-linux": "flock nsenter runuser setpriv setsid unshare",
    "procps": "pgrep pkill ps",
    "kmod": "depmod modinfo",
    "busybox-static": "busybox",
    "qemu-system-x86": "qemu-system-x86_64",
    "cryptsetup-bin": "cryptsetup",
    "e2fsprogs": "debugfs e2fsck mkfs.ext4",
    "docker.io": "docker dockerd",
    "podman": "podman",
    "mmdebstrap": "mmdebstrap",
    "age": "age age-keygen",
    "git": "git",
    "make": "make",
    "rsync": "rsync",
    "openssh-client": "ssh ssh-agent ssh-keygen scp",
    "gcc": "gcc",
    "binutils": "strip",
    "jq": "jq",
    "curl": "curl",
    "openssl": "openssl",
    "iproute2": "ip",
    "python3": "python3",
    "shellcheck": "shellcheck",
    "zsh": "zsh",
    "strace": "strace",
}
PACKAGE_OF = {program: pkg for pkg, names in PROGRAMS_OF.items() for program in names.split()}
# gcc pulls in binutils (strip), python3-venv pulls in python3.
IMPLIED = {"gcc": {"binutils"}, "python3-venv": {"python3"}}

# Which scripts' installs serve each file: the script itself, and the one that calls it.
TEST = ["scripts/test", "scripts/lib.sh"]
SERVED_BY = {
    "scripts/test": TEST,
    "scripts/lib.sh": TEST,
    "scripts/bench": ["scripts/bench", "scripts/lib.sh"],
    "scripts/demo": ["scripts/demo", "scripts/lib.sh"],
    "scripts/luks-vm": ["scripts/luks-vm", *TEST],
    "tests/k8s/harness/build.sh": TEST,
    "tests/k8s/harness/cluster.sh": TEST,
    "tests/k8s/harness/cni/loopback": TEST,
    "tests/k8s/harness/cni/tazpod-netns": TEST,
}
# Programs that a script runs through a third party's build, which no parse of ours can see.
HIDDEN = {"tests/k8s/harness/build.sh": {"rsync"}}  # Kubernetes' hack/lib runs it
# Shell words that are not programs: keywords and builtins.
SHELL_WORDS = """if then else elif fi for while until do done case esac in function select time !
    { } [[ ]] [ test . source : cd echo printf read local declare export readonly return
    exit set shift trap wait eval exec command builtin type mapfile pushd popd true false
    break continue unset let umask kill pwd shopt"""
NOT_PROGRAMS = frozenset(SHELL_WORDS.split())
WRAPPERS = {
    "env",
    "nohup",
    "exec",
    "setsid",
    "time",
    "command",
    "sudo",
    "xargs",
    "nsenter",
    "daemon",
}
SEPARATORS = {";", "&", "&&", "||", "|", "(", ")", ";;", "$(", "<(", "`", "{", "}"}


def shell_commands(text: str) -> Iterator[str]:
    """The command words of a shell script: what the shell looks up as a program."""
    text = re.sub(r"(^|[ \t])#[^\n]*", r"\1", text.replace("\\\n", " "), flags=re.M)
    lines, body = [], iter(text.splitlines())
    for line in body:  # heredoc bodies are data (or run elsewhere, e.g. in the VM's guest)
        lines.append(line)
        found = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if found:
            for inner in body:
                if inner.strip() == found.group(1):
                    break
    text = "\n".join(lines)
    yield from _command_words(text)
    for substitution in _substitutions(text):  # $(...) also inside double quotes
        yield from shell_commands(substitution)


def _substitutions(text: str) -> Iterator[str]:
    start = text.find("$(")
    while start != -1:
        depth, end = 0, start + 1
        while end < len(text):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                break
            end += 1
        if not text.startswith("$((", start):
            yield text[start + 2 : end]
        start = text.find("$(", start + 2)


def _command_words(text: str) -> Iterator[str]:
    # A newline ends a command like `;` does (inside quotes it only changes a word's text).
    lexer = shlex.shlex(text.replace("\n", " ; "), posix=True, punctuation_chars=True)
    lexer.commenters = ""  # comments are gone already
    lexer.wordchars += "$-./:=+@%{}[]!*?,~^"
    tokens = [part for token in lexer for part in _operators(token)]
    at_start, in_case, i = True, 0, 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token in SEPARATORS:
            at_start = True
            continue
        if token == "((":  # arithmetic
            while i < len(tokens) and tokens[i] != "))":
                i += 1
            i += 1
            continue
        if re.fullmatch(r"\w+\+?=", token):  # name=( ... ): an array, not commands
            while i < len(tokens) and tokens[i] != ")":
                i += 1
            i += 1
            continue
        if not at_start:
            continue
        if token == "case":
            in_case += 1
        elif token == "esac":
            in_case -= 1
        if in_case and _is_case_pattern(tokens, i - 1):
            while tokens[i - 1] != ")":
                i += 1
            continue
        if re.fullmatch(r"\w+\+?=.*", token) or token in ("do", "then", "else", "!"):
            continue  # an assignment before the command, or a keyword that starts one
        if token in WRAPPERS:  # the command follows its options (and env's assignments)
            yield token
            while i < len(tokens) and (tokens[i].startswith("-") or "=" in tokens[i]):
                i += 1
            continue
        if token == "timeout":  # timeout [-k N] [-s SIG] [--flag] DURATION COMMAND
            yield token
            while i < len(tokens) and tokens[i].startswith("-"):
                i += 2 if tokens[i] in ("-k", "-s") else 1
            i += 1
            continue
        if token == "flock":
            yield token
            i += 1  # the lock file; the command follows
            continue
        at_start = False
        yield token


OPERATORS = re.compile(r"&&|\|\||;;|\(\(|\)\)|<\(|>&|>>|<<<|<<|[><|&;()]")


def _operators(token: str) -> list[str]:
    """shlex runs adjacent operators together (`));`, `()`): split them again."""
    if token and not token.strip("();<>|&"):
        return OPERATORS.findall(token)
    return [token]


def _is_case_pattern(tokens: list[str], i: int) -> bool:
    while i < len(tokens) and tokens[i] not in (";", ";;", "&&", "||", "("):
        if tokens[i] == ")":
            return True
        i += 1
    return False


def _function_bodies(text: str) -> dict[str, str]:
    """Top-level functions of a script: `name() {` ... `}`, or on one line."""
    bodies = dict(re.findall(r"^([\w-]+)\(\) \{\n(.*?)^\}", text, re.M | re.S))
    bodies.update(re.findall(r"^([\w-]+)\(\) \{ (.*) \}$", text, re.M))
    return bodies


def script_programs(path: Path) -> set[str]:
    """The programs a script runs, with those of the lib.sh functions it calls."""
    text = path.read_text()
    functions = set(re.findall(r"^\s*([\w-]+)\s*\(\)", text, re.M))
    words = set(shell_commands(text))
    if re.search(r"^\. scripts/lib.sh", text, re.M):
        library = _function_bodies((ROOT / "scripts/lib.sh").read_text())
        functions |= set(library)
        called, todo = set(), words & set(library)
        while todo:
            name = todo.pop()
            called.add(name)
            body = set(shell_commands(library[name]))
            words |= body
            todo |= (body & set(library)) - called
    programs = set()
    for word in words:
        if word.startswith(("$", "-", "./", "tests/", "scripts/")) or "$" in word:
            continue  # a variable, an option, or one of the project's own files
        name = word.rsplit("/", 1)[-1]
        if name in functions or name in NOT_PROGRAMS or not re.fullmatch(r"[A-Za-z][\w.+-]*", name):
            continue
        programs.add(name)
    return programs


def installed_by(path: Path) -> set[str]:
    """The packages a script installs: ensure_packages arguments and the demo's need+=()."""
    text = path.read_text().replace("\\\n", " ")
    packages: set[str] = set()
    for line in text.splitlines():
        line = line.split(" #", 1)[0]
        for call in re.findall(r"ensure_packages ([^;|&)]*)", line):
            packages.update(w for w in call.split() if not w.startswith(("$", '"')))
        packages.update(re.findall(r"need\+=\(([\w.+-]+)\)", line))
    for package in list(packages):
        packages |= IMPLIED.get(package, set())
    return packages


def test_programs_come_from_packages_the_scripts_install() -> None:
    problems = []
    for relative, installers in SERVED_BY.items():
        available = set(REQUIRED)
        for installer in installers:
            available |= installed_by(ROOT / installer)
        for program in sorted(script_programs(ROOT / relative) | HIDDEN.get(relative, set())):
            package = PACKAGE_OF.get(program)
            if package is None:
                problems.append(f"{relative}: runs {program!r}, which is not in PACKAGE_OF")
            elif package not in available:
                problems.append(
                    f"{relative}: runs {program!r} from {package}, which neither Debian's"
                    f" required set nor {', '.join(installers)} installs"
                )
    assert not problems, "\n".join(problems)


def test_the_shell_scripts_are_shellcheck_clean() -> None:
    done = subprocess.run(
        ["shellcheck", *(str(ROOT / script) for script in SERVED_BY)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_shell_script_is_checked() -> None:
    scripts = {
        str(p.relative_to(ROOT))
        for p in [
            *ROOT.glob("scripts/*"),
            *ROOT.glob("tests/**/*.sh"),
            *ROOT.glob("tests/**/cni/*"),
        ]
        if p.is_file() and p.read_text().startswith("#!") and "sh" in p.read_text().split("\n")[0]
    }
    assert scripts - set(SERVED_BY) == set()


def python_programs(path: Path) -> set[str]:
    """Programs a test starts: subprocess.*([...]) and PtySession([...]) with a literal name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name not in ("run", "Popen", "check_output", "check_call", "PtySession", "as_user"):
            continue
        argv = node.args[0]
        if isinstance(argv, ast.List) and argv.elts and isinstance(argv.elts[0], ast.Constant):
            value = argv.elts[0].value
            if isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
    return found


# Names tests run on purpose to see a missing program explained (tests/unit/test_sysio.py).
MISSING_ON_PURPOSE = frozenset({"no-such-tazpod-tool"})


def test_programs_the_tests_start_are_installed() -> None:
    problems = []
    for path in sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "bench").rglob("*.py")]):
        # The luks tier runs in the VM that scripts/luks-vm prepares, the benchmarks after
        # scripts/bench, the other tests after scripts/test.
        installers = TEST
        if "luks" in path.parts:
            installers = [*TEST, "scripts/luks-vm"]
        elif path.parts[len(ROOT.parts)] == "bench":
            installers = ["scripts/bench", "scripts/lib.sh"]
        available = set(REQUIRED)
        for installer in installers:
            available |= installed_by(ROOT / installer)
        for program in sorted(python_programs(path) - MISSING_ON_PURPOSE):
            package = PACKAGE_OF.get(program)
            if package is None:
                problems.append(f"{path.relative_to(ROOT)}: runs {program!r}, not in PACKAGE_OF")
            elif package not in available:
                problems.append(f"{path.relative_to(ROOT)}: runs {program!r} from {package}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("x=$(foo a) && bar | baz; qux &\n", {"foo", "bar", "baz", "qux"}),
        ('log "at $(date +%s)"\nnohup dockerd -x >l 2>&1 &\n', {"date", "nohup", "dockerd"}),
        ("case $1 in\n  up|down) rsync a b ;;\n  *) make ;;\nesac\n", {"rsync", "make"}),
        ("A=(-o x)\nB=1 C=2 env D=3 jq .\n((n == 0)) || tar x\n", {"env", "jq", "tar"}),
        ("cat <<EOF\nnotaprogram here\nEOF\nfind . | xargs -r gzip\n", {"find", "xargs", "gzip"}),
        (
            "f() { curl x; }\nf\ntimeout -k 5 $T qemu-system-x86_64\n",
            {"curl", "timeout", "qemu-system-x86_64"},
        ),
    ],
)
def test_the_parser_finds_command_words(tmp_path: Path, script: str, expected: set[str]) -> None:
    path = tmp_path / "s.sh"
    path.write_text(script)
    assert script_programs(path) - {"log", "cat"} == expected


def test_a_removed_install_line_is_caught(tmp_path: Path) -> None:
    script = tmp_path / "s.sh"
    script.write_text("ensure_packages rsync\nrsync -a x y\n")
    assert "rsync" in installed_by(script) and "rsync" in script_programs(script)
    script.write_text("rsync -a x y\n")
    assert "rsync" not in installed_by(script) | REQUIRED
