"""Classify a failure's text (a tool's output, an error message) into one of nine classes.

`classify(text, tool=None, exit_code=None)` returns a `Failure` with
- `failure_class`: one of FAILURE_CLASSES;
- `error_context`: `tool` (the program recognised in the text, else the caller's `tool`),
  `files` (`[{"path", "line", "column"}]`, most relevant first), `tests` (failing test names),
  `missing` (the missing module or package), `codes` (error codes: TS2322, E0308, F401,
  assignment, merge_conflict, ...), `first_error_line` and `exit_code`;
- `rule`: which rule decided (e.g. "dependency.tsc_missing"), for debugging and insights.

The telemetry hook imports this module lazily, for failed tool calls only; the hook may import
only the standard library and must stay valid Python 3.8. So this module imports nothing but
`re` and `sys` at run time (no other `lib` module, not even `typing` or `dataclasses`) and uses
no newer syntax. Each regex is compiled on first use and runs only on lines holding one of its
gate literals (see `_Rx`), which keeps a classification well under a millisecond on ordinary
outputs and bounded on huge ones (cut to MAX_SCAN_CHARS of head and of tail).

Rules are tried in this order; the first that fires decides the class:

1. budget_exceeded - a budget the operator set ran out: Claude Code's `error_max_budget_usd` /
   `error_max_turns`, "Exceeded USD budget", proxies' "Budget has been exceeded", spend limits.
   An account's billing state (credit balance, subscription usage limit) is not a budget the
   team set and is left to orchestration_error.
2. timeout - exit code 124 (GNU `timeout` killed the command) whatever was printed; 137 or 143 (SIGKILL,
   SIGTERM from outside) with nothing printed or the shell's "Killed"/"Terminated" notice; or
   `TimeoutExpired`, "timed out", "deadline exceeded", test runners' own timeouts
   (pytest-timeout, jest, go test, node:test), CI jobs cancelled or failed for time. Before the
   test rules, so a test killed by its runner's timeout counts as a timeout.
3. dependency_missing - missing Python/Node modules, pip/npm/cargo/go packages that cannot be
   found, mypy/pyright/tsc unresolved imports, missing C headers, `command not found` (and exit
   code 127 with nothing printed). Before the compile rules: a missing module is not a type error.
4. contract_violation (tools) - consumer contract verification (Pact), breaking-change checkers
   (buf breaking, oasdiff, openapi-diff, griffe check), schema validators (ajv, check-jsonschema).
5. orchestration_error - git fatal errors, merge and rebase conflicts, rejected pushes, Claude
   Code CLI and API errors (authentication, usage limits, bad flags), Claude Code tool errors.
6. lint_error (clippy) - clippy reports look like compiler errors, so they are caught first.
7. compile_error - Python SyntaxError/IndentationError, tsc, pyright, mypy, gcc/clang, javac,
   rustc/cargo build, go build/vet, JavaScript SyntaxError, linker errors.
8. lint_error - ruff, flake8/pycodestyle/pylint, eslint, rustfmt/ruff format/black/prettier
   checks, shellcheck, golangci-lint.
9. test_fail - pytest, unittest, jest, vitest, node:test, go test, cargo test, mocha, and the
   plain "N passed, N failed" line.
10. contract_violation (exceptions) - a pydantic or jsonschema ValidationError outside a test run.
11. unknown - anything else; Python tracebacks, Node errors, Rust panics and crashes still get
   their file, line and error code recorded.
"""

from __future__ import annotations

import re
import sys

# Annotations are never evaluated (see the __future__ import), so typing is imported for the type
# checker only: the hook pays for no import it does not need.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterator, List, Match, Optional, Pattern, Tuple

FAILURE_CLASSES = (
    "compile_error",
    "contract_violation",
    "test_fail",
    "lint_error",
    "orchestration_error",
    "budget_exceeded",
    "dependency_missing",
    "timeout",
    "unknown",
)

# Huge outputs are cut to their head and tail: errors sit at the start (compilers) or the end
# (test summaries), and the hook must stay fast whatever a command printed.
MAX_SCAN_CHARS = 64 * 1024
_LIST_LIMIT = 20
_LINE_LIMIT = 300


class Failure:
    """The class of one failure, what it names, and which rule decided. Immutable.

    A hand-written record rather than a dataclass: importing `dataclasses` (and `inspect` with
    it) would cost the telemetry hook more than this whole module does.
    """

    __slots__ = ("error_context", "failure_class", "rule")

    failure_class: str
    error_context: Dict[str, Any]
    rule: str

    def __init__(self, failure_class: str, error_context: Optional[Dict[str, Any]] = None, rule: str = "") -> None:
        object.__setattr__(self, "failure_class", failure_class)
        object.__setattr__(self, "error_context", {} if error_context is None else error_context)
        object.__setattr__(self, "rule", rule)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Failure is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Failure is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Failure):
            return NotImplemented
        return (self.failure_class, self.error_context, self.rule) == (
            other.failure_class, other.error_context, other.rule)

    __hash__ = None  # type: ignore[assignment]  # error_context is a dict

    def __repr__(self) -> str:
        return f"Failure(failure_class={self.failure_class!r}, rule={self.rule!r}, error_context={self.error_context!r})"

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-ready copy: failure_class, rule and error_context."""
        return {"failure_class": self.failure_class, "rule": self.rule, "error_context": dict(self.error_context)}


_M = re.MULTILINE
_END = sys.maxsize
_MI = re.MULTILINE | re.IGNORECASE


class _Re:
    """A regex compiled on first use: most never are, and compiling them all would slow the import."""

    __slots__ = ("_compiled", "flags", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = pattern
        self.flags = flags
        self._compiled: Optional[Pattern[str]] = None

    def get(self) -> Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled

    def search(self, text: str, pos: int = 0, endpos: int = _END) -> Optional[Match[str]]:
        return self.get().search(text, pos, endpos)

    def match(self, text: str) -> Optional[Match[str]]:
        return self.get().match(text)

    def finditer(self, text: str, pos: int = 0, endpos: int = _END) -> Iterator[Match[str]]:
        return self.get().finditer(text, pos, endpos)

    def sub(self, replacement: str, text: str) -> str:
        return self.get().sub(replacement, text)


class _Rx:
    """A regex behind cheap gates.

    Python's regex engine tries every position of the text, which costs milliseconds on a long
    output; `str.find` does not. So each pattern names gates, literals (or a regex with a literal
    first character, which the engine scans for quickly) one of which must sit on the line where a
    match would start or end, and the pattern runs only on those lines (plus `back` lines before
    them, for matches spanning lines).
    """

    __slots__ = ("back", "gates", "rx")

    def __init__(self, gates: Tuple[Any, ...], pattern: str, flags: int = 0, back: int = 0) -> None:
        self.gates = gates
        self.rx = _Re(pattern, flags)
        self.back = back

    @staticmethod
    def _next(text: str, gate: Any, pos: int, endpos: int) -> Tuple[int, int]:
        if isinstance(gate, str):
            return text.find(gate, pos, endpos), len(gate)
        m = gate.search(text, pos, endpos)
        return (m.start(), m.end() - m.start()) if m else (-1, 0)

    def _window(self, text: str, at: int, size: int, pos: int, endpos: int) -> Tuple[int, int]:
        start = max(text.rfind("\n", pos, at) + 1, pos)
        for _ in range(self.back):
            if start <= pos:
                break
            start = max(text.rfind("\n", pos, start - 1) + 1, pos)
        end = text.find("\n", at + size, endpos)
        return start, endpos if end < 0 else end

    def search(self, text: str, pos: int = 0, endpos: Optional[int] = None) -> Optional[Match[str]]:
        if endpos is None or endpos > len(text):
            endpos = len(text)
        best: Optional[Match[str]] = None
        for gate in self.gates:
            at, size = self._next(text, gate, pos, endpos)
            while at >= 0 and (best is None or at < best.end()):
                start, end = self._window(text, at, size, pos, endpos)
                m = self.rx.search(text, start, end)
                if m:
                    if best is None or m.start() < best.start():
                        best = m
                    break
                at, size = self._next(text, gate, end, endpos) if end < endpos else (-1, 0)
        return best

    def finditer(self, text: str) -> List[Match[str]]:
        found: Dict[int, Match[str]] = {}
        size_all = len(text)
        for gate in self.gates:
            at, size = self._next(text, gate, 0, size_all)
            while at >= 0:
                start, end = self._window(text, at, size, 0, size_all)
                for m in self.rx.finditer(text, start, end):
                    found.setdefault(m.start(), m)
                at, size = self._next(text, gate, end, size_all) if end < size_all else (-1, 0)
        return [found[k] for k in sorted(found)]


# flake8, pycodestyle, pylint and ruff's concise lines: "path:line:col: CODE message".
_CODE_LOCATOR = _Re(r":\d+:\d+: [A-Z]")

_ANSI = _Re(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_EXIT_PREFIX = _Re(r"\AExit code (-?\d+)[ \t]*(?:\r?\n|\Z)")
_ERROR_WORD = _Rx(('error', 'fatal', 'failed', 'failure', 'exception', 'panic', 'traceback'), r"\b(?:error|fatal|failed|failure|exception|panic(?:ked)?|traceback)\b", re.I)


class _Ctx:
    """The text under classification plus what the rules share: a lower-cased copy and the hit."""

    __slots__ = ("codes", "exit_code", "files", "first", "lower", "missing", "rule", "tests", "text",
                 "tool")

    def __init__(self, text: str, exit_code: Optional[int]) -> None:
        self.text = text
        self.lower = text.lower()
        self.exit_code = exit_code
        self.tool: Optional[str] = None
        self.files: List[Dict[str, Any]] = []
        self.tests: List[str] = []
        self.codes: List[str] = []
        self.missing: Optional[str] = None
        self.first: Optional[str] = None
        self.rule = ""

    def add_file(self, path: str, line: Any = None, column: Any = None) -> None:
        path = path.strip().strip("'\"")
        if path.startswith("./"):
            path = path[2:]
        if not path or len(self.files) >= _LIST_LIMIT:
            return
        entry = {"path": path, "line": _int(line), "column": _int(column)}
        if entry not in self.files:
            self.files.append(entry)

    def add_test(self, name: str) -> None:
        name = name.strip()
        if name and name not in self.tests and len(self.tests) < _LIST_LIMIT:
            self.tests.append(name)

    def add_code(self, code: Optional[str]) -> None:
        if code and code not in self.codes and len(self.codes) < _LIST_LIMIT:
            self.codes.append(code)

    def original(self, m: Match[str]) -> str:
        """The text of a match found in the lower-cased copy, in its original case where possible."""
        if len(self.lower) == len(self.text):
            return self.text[m.start():m.end()]
        return m.group(0)

    def line_of(self, m: Match[str]) -> str:
        """The whole line holding a match found in either copy of the text."""
        return _line_at(self.text if len(self.lower) == len(self.text) else self.lower, m.start())

    def first_line(self, line: Optional[str]) -> None:
        if self.first is None and line and line.strip():
            self.first = line.strip()[:_LINE_LIMIT]


def _int(value: Any) -> Optional[int]:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start:] if end < 0 else text[start:end]


# ---------------------------------------------------------------- budget_exceeded

_BUDGET = _Rx(('budget', 'spend', 'usage limit', 'max_turns', 'number of turns', 'max turns', 'maximum turns'),
    r"error_max_budget_usd|error_max_turns|exceeded usd budget|reached maximum budget"
    r"|budget (?:has been |was )?exceeded|exceeded (?:the |your |its )?(?:\w+ )?budget|over budget"
    r"|(?:reached|exceeded|hit|over) (?:\w+ ){0,4}spend(?:ing)? limit|spend(?:ing)? limit (?:reached|exceeded)"
    r"|specified api usage limits?"
    r"|reached (?:the )?maximum number of turns|max(?:imum)? turns (?:reached|exceeded)"
    r"|reached max(?:imum)? turns",
    re.I,
)
_TURNS = _Re(r"error_max_turns|maximum number of turns|max(?:imum)? turns", re.I)


def _budget(c: _Ctx) -> bool:
    m = _BUDGET.search(c.lower)
    if not m:
        return False
    c.add_code("max_turns" if _TURNS.search(m.group(0)) else "budget")
    if "claude" in c.lower or "error_max_" in c.lower:
        c.tool = "claude"
    c.first_line(c.line_of(m))
    return True


# ---------------------------------------------------------------- timeout

_TIMEOUT = _Rx(('timeout', 'timed out', 'timedout', 'deadline', 'execution time', 'maximum time', 'took longer', 'too long with no output', 'time limit'),
    r"(?P<code>TimeoutExpired|TimeoutError|socket\.timeout|ReadTimeout(?:Error)?|ConnectTimeout(?:Error)?"
    r"|Timeout::Error|ETIMEDOUT|ESOCKETTIMEDOUT|DEADLINE_EXCEEDED|testTimeoutFailure)"
    r"|\btimed out\b|\bdeadline exceeded\b|\bexceeded timeout of\b|\bFailed: Timeout\b"
    r"|\bTimeout \(?>\s?[\d.]+ ?m?s\b|exceeded the maximum execution time|ran longer than the maximum time"
    r"|execution took longer than|too long with no output|(?:cancell?ed|aborted|killed|terminated)"
    r" (?:due to|because of|after) (?:a |the )?(?:timeout|time limit)|\btime limit exceeded\b"
    r"|\btimeout (?:has been |was )?(?:exceeded|reached|expired)\b",
    re.I,
)
_GO_TEST_TIMEOUT = _Rx(('_test.go:',), r"^\s*(?P<path>[^\s:]+_test\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?$", _M)
_PY_TEST_FILE_LINE = _Rx(('.py:',), r"^(?P<path>[^\s:][^:\n]*\.py):(?P<line>\d+)(?:: | in \w)", _M)
_NODE_LOCATION = _Rx(("location: '",), r"^\s*location: '(?P<path>[^':]+):(?P<line>\d+):(?P<col>\d+)'", _M)


# What a shell prints when a command it ran was killed by SIGKILL or SIGTERM ("... 1234 Killed  cmd").
_SIGNAL_LINE = _Rx(('killed', 'terminated'), r"^(?:.*\s)?(?:killed|terminated)(?:\s.*)?$", _MI)


def _timeout(c: _Ctx) -> bool:
    if c.exit_code == 124:
        c.rule = "timeout.exit_124"
        c.add_code("exit_124")
        _timeout_context(c, _TIMEOUT.search(c.lower))
        return True
    if c.exit_code in (137, 143):
        # Killed from outside (`timeout -s KILL`, `timeout --kill-after`, a CI or sandbox time limit): the
        # exit status is all that is left, with at most the shell's "Killed"/"Terminated" notice.
        m = _SIGNAL_LINE.search(c.lower)
        if m or not c.text.strip():
            c.rule = "timeout.signal"
            c.add_code(f"exit_{c.exit_code}")
            c.first_line(c.line_of(m) if m else f"killed by signal {c.exit_code - 128}")
            return True
    m = _TIMEOUT.search(c.lower)
    if not m:
        return False
    c.rule = "timeout.text"
    _timeout_context(c, m)
    return True


def _timeout_context(c: _Ctx, m: Optional[Match[str]]) -> None:
    if m is not None:
        c.add_code(c.original(m) if m.group("code") else "timeout")
        c.first_line(c.line_of(m))
    low = c.lower
    if "pytest" in low or "short test summary" in low or " failed in " in low:
        c.tool = "pytest"
        _pytest_context(c)
    elif "go test" in low or "panic: test timed out" in low:
        c.tool = "go test"
        for g in _GO_TEST_TIMEOUT.finditer(c.text):
            c.add_file(g.group("path"), g.group("line"))
    elif "exceeded timeout of" in low:
        c.tool = "jest"
        _jest_context(c)
    elif "testtimeoutfailure" in low or "tap version" in low:
        c.tool = "node:test"
        _node_test_context(c)
    elif "traceback (most recent call last)" in low:
        c.tool = "python"
        _python_frames(c)
    elif low.startswith("curl:") or "\ncurl:" in low:
        c.tool = "curl"


# ---------------------------------------------------------------- dependency_missing

_DEP_RULES = (
    ("python_module", "python", _Rx(('No module named',),
        r"^.*?(?:ModuleNotFoundError|ImportError): No module named '?(?P<name>[\w.]+)'?", _M)),
    ("mypy_missing", "mypy", _Rx(('Cannot find implementation', 'Library stubs not installed', 'missing library stubs'),
        r"^.*?error: (?:Cannot find implementation or library stub for module named"
        r"|Library stubs not installed for|Skipping analyzing) \"(?P<name>[\w.]+)\"", _M)),
    ("pyright_missing", "pyright", _Rx(('could not be resolved',),
        r"^.*?error: Import \"(?P<name>[\w.]+)\" could not be resolved", _M)),
    ("tsc_missing", "tsc", _Rx(('TS2307',),
        r"^.*?error TS2307: Cannot find module '(?P<name>[^']+)'", _M)),
    ("node_module", "node", _Rx(('Cannot find module', 'Cannot find package'),
        r"^.*?(?:Error: Cannot find module|Cannot find package) '(?P<name>[^']+)'", _M)),
    ("npm_404", "npm", _Rx(('npm ERR! 404', 'npm error 404', 'npm ERR! notarget', 'npm error notarget'),
        r"^npm (?:ERR!|error) (?:404 +'(?P<name>(?:@[^/'\s]+/)?[^@'\s]+)@[^']*' is not in"
        r"|404 Not Found - GET https?://\S+?/(?P<name2>[^/\s]+(?:%2[fF][^/\s]+)?)(?: - |\s*$)"
        r"|notarget No matching version found for (?P<name3>(?:@[^/\s]+/)?[^@\s]+))", _M)),
    ("npm_eresolve", "npm", _Rx(('ERESOLVE',), r"^npm (?:ERR!|error) code (?P<name>ERESOLVE)\b", _M)),
    ("pip_missing", "pip", _Rx(('No matching distribution found', 'Could not find a version that satisfies'),
        r"^(?:ERROR: )?(?:No matching distribution found for|Could not find a version that satisfies"
        r" the requirement) (?P<name>[A-Za-z0-9][\w.\-]*)", _M)),
    ("pip_conflict", "pip", _Rx(('ResolutionImpossible',), r"^(?:ERROR: )?ResolutionImpossible", _M)),
    ("pnpm_yarn_404", "npm", _Rx(('ERR_PNPM_FETCH_404', 'registry.yarnpkg.com'),
        r"ERR_PNPM_FETCH_404.*?/(?P<name>[^/\s:]+)(?::|\s|$)"
        r"|\"https://registry\.yarnpkg\.com/(?P<name2>[^\":]+): Not found\"", _M)),
    ("cargo_missing", "cargo", _Rx(('no matching package named', 'failed to select a version'),
        r"^error: (?:no matching package named `(?P<name>[^`]+)` found"
        r"|failed to select a version for the requirement `(?P<name2>[^ `=]+))", _M)),
    ("rust_crate", "rustc", _Rx(("can't find crate", 'unlinked crate', 'missing crate'),
        r"^error\[E0463\]: can't find crate for `(?P<name>[^`]+)`"
        r"|unlinked crate `(?P<name2>[^`]+)`|you might be missing crate `(?P<name3>[^`]+)`", _M)),
    ("go_module", "go", _Rx(('no required module provides', 'cannot find module providing', 'missing go.sum entry',
                             'cannot find package', ': 404', 'unknown revision'),
        r"(?:no required module provides package|cannot find module providing package"
        r"|missing go\.sum entry for module providing package) (?P<name>[^\s;:]+)"
        r"|cannot find package \"(?P<name2>[^\"]+)\""
        r"|^go: (?:module )?(?P<name3>[^\s@:]+)(?:@\S+)?: (?:reading \S+: 404|invalid version: unknown revision)",
        _M)),
    ("c_header", "gcc", _Rx(('fatal error:',),
        r"^(?P<path>[^\s:][^:\n]*):(?P<line>\d+):(?P<col>\d+): fatal error: "
        r"(?:'(?P<name>[^']+)' file not found|(?P<name2>[^:\n]+): No such file or directory)", _M)),
    ("ruby_load", "ruby", _Rx(('cannot load such file',), r"cannot load such file -- (?P<name>\S+)", _M)),
    ("maven", "maven", _Rx(('Could not resolve dependencies',), r"Could not resolve dependencies for project (?P<name>\S+)", _M)),
    ("command_not_found", "shell", _Rx(('not found',),
        r"^(?:.*?: )?(?:line \d+: )?(?P<name>[\w.+-]+): (?:command )?not found\s*$", _M)),
)
_PY_FRAME = _Rx(('File "',), r"^\s*(?:E\s+)?File \"(?P<path>[^\"]+)\", line (?P<line>\d+)", _M)
_LIB_PATH = _Re(r"site-packages|dist-packages|/lib/python\d|<frozen |importlib", re.I)


def _dependency(c: _Ctx) -> bool:
    for name, tool, rx in _DEP_RULES:
        m = rx.search(c.text)
        if not m:
            continue
        if name == "command_not_found" and c.exit_code not in (None, 127):
            continue
        groups = m.groupdict()
        missing = groups.get("name") or groups.get("name2") or groups.get("name3")
        if missing and "%2" in missing:
            missing = missing.replace("%2f", "/").replace("%2F", "/")
        c.missing = missing
        c.rule = "dependency." + name
        c.tool = tool
        c.first_line(_line_at(c.text, m.start()))
        if groups.get("path"):
            c.add_file(groups["path"], groups.get("line"), groups.get("col"))
        if tool == "python":
            if "short test summary info" in c.lower or "error collecting" in c.lower:
                c.tool = "pytest"
            _python_frames(c)
        elif tool in ("mypy", "pyright", "tsc", "go"):
            c.add_file(*_leading_location(c.first or ""))
        return True
    return False


_LEADING_LOCATION = _Re(
    r"^\s*(?P<path>[^\s:(][^:(\n]*?)(?::(?P<line>\d+)(?::(?P<col>\d+))?|\((?P<line2>\d+),(?P<col2>\d+)\))")


def _leading_location(line: str) -> Tuple[str, Optional[str], Optional[str]]:
    m = _LEADING_LOCATION.match(line)
    if not m:
        return "", None, None
    return m.group("path"), m.group("line") or m.group("line2"), m.group("col") or m.group("col2")


# ---------------------------------------------------------------- contract_violation (tools)

_CONTRACT_TOOLS = (
    ("pact", _Rx(('pact', 'Pact'),
        r"Verifying a pact between|pact verification failed|There (?:were|was) \d+ pact failures?"
        r"|\bpact\b.*\bmismatch", re.I)),
    ("buf breaking", _Rx(('.proto:', 'buf found'),
        r"^(?P<path>[^\s:]+\.proto):(?P<line>\d+):(?P<col>\d+):(?:Previously present|.* changed (?:type|name"
        r"|cardinality|label|option) from|.* was deleted)|buf found \d+ breaking changes?", _M)),
    ("oasdiff", _Rx(('breaking change', '] at '), r"^\d+ breaking changes?: \d+ error|^error\s+\[[a-z0-9-]+\] at ", _M)),
    ("openapi-diff", _Rx(('Breaking changes found', 'breakingDifferences'), r"Breaking changes found between the two specifications|\"breakingDifferences\"")),
    ("griffe", _Rx(('was removed', 'was changed', 'was moved', 'are incompatible', 'added as required', 'different kind of object'),
        r"^(?P<path>[^\s:]+\.py):(?P<line>\d+): \S+: (?:Parameter was removed|Parameter was added as required"
        r"|Parameter kind was changed|Parameter default was changed|Positional parameter was moved"
        r"|Public object was removed|Public object points to a different kind of object"
        r"|Attribute value was changed|Return types are incompatible|Base class was removed)", _M)),
    ("ajv", _Rx((" invalid",), r"^\S+ invalid\s*$", _M)),
    ("check-jsonschema", _Rx(('Schema validation errors',), r"Schema validation errors were encountered")),
    ("contract", _Rx(('contract violation', 'Contract violation', 'breaking change', 'Breaking change', 'BREAKING CHANGE'), r"\b(?:contract violation|breaking (?:api )?changes? detected)\b", re.I)),
)
_AJV_DETAILS = ("instancePath", "dataPath", "keyword")
_CONTRACT_CODE = _Rx(("keyword: '", '"code": "', '] at '), r"keyword: '(?P<kw>\w+)'|\"code\": \"(?P<code>[\w.]+)\"|\[(?P<oas>[a-z0-9-]+)\] at ")


def _contract_tools(c: _Ctx) -> bool:
    for tool, rx in _CONTRACT_TOOLS:
        m = rx.search(c.text)
        if not m or (tool == "ajv" and not any(k in c.text for k in _AJV_DETAILS)):
            continue
        c.tool = tool
        c.rule = "contract." + tool.replace(" ", "_").replace("-", "_")
        c.first_line(_line_at(c.text, m.start()))
        if tool in ("buf breaking", "griffe"):
            for g in rx.finditer(c.text):
                if g.groupdict().get("path"):
                    c.add_file(g.group("path"), g.group("line"), g.groupdict().get("col"))
        for g in _CONTRACT_CODE.finditer(c.text):
            c.add_code(g.group("kw") or g.group("code") or g.group("oas"))
        return True
    return False


# ---------------------------------------------------------------- orchestration_error

_GIT_SIGNS = (
    ("merge_conflict", _Rx(('CONFLICT (', 'Automatic merge failed'), r"^CONFLICT \([^)]*\): .*?(?:in |: )(?P<path>\S+)|^Automatic merge failed", _M)),
    ("push_rejected", _Rx(('rejected]', 'failed to push some refs', 'pre-receive hook declined'),
        r"^\s*! \[(?:remote )?rejected\]|failed to push some refs|pre-receive hook declined", _M)),
    ("rebase_conflict", _Rx(('could not apply', 'Could not apply'), r"^(?:error: )?could not apply [0-9a-f]+", _MI)),
    ("local_changes", _Rx(('would be overwritten',),
        r"^error: (?:Your local changes to the following files would be overwritten"
        r"|The following untracked working tree files would be overwritten)", _M)),
    ("divergent_branches", _Rx(('divergent branches',), r"Need to specify how to reconcile divergent branches")),
    ("unrelated_histories", _Rx(('unrelated histories',), r"refusing to merge unrelated histories")),
    ("not_a_repository", _Rx(('not a git repository',), r"not a git repository")),
    ("already_checked_out", _Rx(('is already checked out', 'is already used by worktree'), r"is already (?:checked out|used by worktree) at")),
    ("lock_exists", _Rx(('index.lock', 'cannot lock ref'), r"index\.lock': File exists|cannot lock ref")),
    ("pathspec", _Rx(('did not match',), r"^error: pathspec '[^']*' did not match", _M)),
    ("refspec", _Rx(('src refspec',), r"^error: src refspec \S+ does not match any", _M)),
    ("auth", _Rx(('Permission denied (publickey)', 'Authentication failed for'), r"Permission denied \(publickey\)|Authentication failed for")),
    ("git_fatal", _Rx(('fatal: ',), r"^fatal: \S", _M)),
)
_CLAUDE_SIGNS = _Rx(('api error', 'selected model', 'prompt is too long', 'authentication_error', 'permission_error', 'rate_limit_error', 'overloaded_error', 'api_error', 'authentication_failed', '/login', 'not logged in', 'oauth token', 'invalid api key', 'hit your', 'usage limit', 'credit balance', 'error_during_execution', 'requires --verbose', 'when using --print', 'invalid value for'),
    r"API Error: (?:\d{3}|Request rejected)|issue with the selected model|Prompt is too long"
    r"|\"type\": ?\"(?:authentication_error|permission_error|rate_limit_error|overloaded_error"
    r"|api_error)\"|authentication_failed|Please run /login|Not logged in|OAuth token (?:has )?expired"
    r"|Invalid API key|You've hit your (?:usage )?limit|usage limit reached|credit balance (?:is )?too low"
    r"|error_during_execution|--output-format=stream-json requires --verbose"
    r"|Claude AI usage limit reached|Error: (?:When using --print|Invalid value for)",
    re.I,
)
_CLAUDE_TOOL_SIGNS = _Rx(('String to replace not found', 'matches of the string to replace', 'has not been read yet', 'modified since read', '<tool_use_error>', 'InputValidationError', 'has been denied', 'hook error', 'hook blocked', 'blocked by'),
    r"String to replace not found in file|Found \d+ matches of the string to replace"
    r"|File has not been read yet|File has been modified since read|<tool_use_error>"
    r"|InputValidationError|Permission to use \S+ (?:with command .* )?has been denied"
    r"|hook (?:error|blocked)|blocked by (?:a )?hook"
)


def _orchestration(c: _Ctx) -> bool:
    for code, rx in _GIT_SIGNS:
        m = rx.search(c.text)
        if not m:
            continue
        c.tool = "git"
        c.rule = "orchestration.git"
        c.add_code(code)
        c.first_line(_line_at(c.text, m.start()))
        # Name every git problem present (a pull can be refused and a push rejected in one run).
        for other, orx in _GIT_SIGNS:
            if other != code and other != "git_fatal" and orx.search(c.text):
                c.add_code(other)
        for g in _GIT_SIGNS[0][1].finditer(c.text):
            if g.group("path"):
                c.add_file(g.group("path"))
        return True
    m = _CLAUDE_SIGNS.search(c.lower)
    if m:
        c.tool = "claude"
        c.rule = "orchestration.claude"
        c.add_code(_claude_code(m.group(0)))
        c.first_line(c.line_of(m))
        return True
    m = _CLAUDE_TOOL_SIGNS.search(c.text)
    if m:
        c.rule = "orchestration.claude_tool"
        c.add_code("tool_use_error")
        c.first_line(_line_at(c.text, m.start()))
        return True
    return False


def _claude_code(hit: str) -> str:
    low = hit.lower()
    if "auth" in low or "login" in low or "oauth" in low or "api key" in low:
        return "authentication"
    if "limit" in low or "rate" in low or "credit" in low:
        return "usage_limit"
    if "overloaded" in low:
        return "overloaded"
    if "request rejected" in low:
        return "rate_limit"
    if "selected model" in low:
        return "invalid_model"
    if "too long" in low:
        return "context_too_long"
    if "api error" in low:
        return "api_error"
    return "cli_error"


# ---------------------------------------------------------------- lint_error (clippy) and compile_error

_RUST_ERROR = _Rx(('error:', 'error[', 'warning:', 'warning['), r"^(?P<kind>error|warning)(?:\[(?P<code>E\d{4})\])?: (?P<msg>.+)$", _M)
_RUST_LOCATION = _Rx(('--> ',), r"^\s*--> (?P<path>[^\s:][^:\n]*):(?P<line>\d+):(?P<col>\d+)", _M)
_CLIPPY_LINT = _Rx(('clippy::',), r"clippy::(?P<lint>[a-z_-]+)")


def _clippy(c: _Ctx) -> bool:
    if "clippy::" not in c.text or not _RUST_ERROR.search(c.text) or "error[e" in c.lower:
        return False
    c.tool = "clippy"
    c.rule = "lint.clippy"
    for m in _CLIPPY_LINT.finditer(c.text):
        c.add_code(m.group("lint").replace("-", "_"))
    _rust_locations(c)
    return True


def _rust_locations(c: _Ctx) -> None:
    for m in _RUST_ERROR.finditer(c.text):
        if m.group("kind") == "error" and not m.group("msg").startswith(("could not compile", "aborting")):
            c.first_line(m.group(0))
            c.add_code(m.group("code"))
            loc = _RUST_LOCATION.search(c.text, m.end(), m.end() + 400)
            if loc:
                c.add_file(loc.group("path"), loc.group("line"), loc.group("col"))


_PY_SYNTAX = _Rx(('SyntaxError', 'IndentationError', 'TabError'), r"^(?:E\s+|Sorry: )?(?P<code>SyntaxError|IndentationError|TabError)\b(?P<rest>.*)$", _M)
_PY_SYNTAX_WHERE = _Re(r"\((?P<path>[^,()]+), line (?P<line>\d+)\)\s*$")
_TSC = _Rx(('): error ', ' - error TS'),
    r"^(?P<path>[^\s(][^(\n]*?)\((?P<line>\d+),(?P<col>\d+)\): error (?P<code>[A-Z]+\d+): "
    r"|^(?P<path2>[^\s:][^:\n]*?):(?P<line2>\d+):(?P<col2>\d+) - error (?P<code2>TS\d+): ", _M)
_PYRIGHT = _Rx((' - error: ',),
    r"^\s*(?P<path>[^\s:][^:\n]*?):(?P<line>\d+):(?P<col>\d+) - error: (?P<msg>.*?)(?: \((?P<code>report\w+)\))?$",
    _M)
_PYRIGHT_CODE = _Rx(('(report',), r"\((?P<code>report\w+)\)\s*$", _M)
_MYPY = _Rx((': error: ',),
    r"^(?P<path>[^\s:][^:\n]*\.pyi?):(?P<line>\d+):(?:(?P<col>\d+):)? error: (?P<msg>.*?)"
    r"(?:  \[(?P<code>[a-z][a-z-]*)\])?$", _M)
_CC = _Rx(('error: ',),
    r"^(?P<path>[^\s:][^:\n]*):(?P<line>\d+):(?:(?P<col>\d+):)? (?:fatal )?error: (?P<msg>.*)$", _M)
_LINKER = _Rx(('undefined reference to', 'ld returned', 'ld: ', 'Undefined symbols for'), r"undefined reference to|ld returned \d+ exit status|^ld: .*error|Undefined symbols for", _M)
_GO_HEADER = _Rx(('# ',), r"^# \S+", _M)
_GO_ERROR = _Rx(('.go:',), r"^(?P<vet>vet: )?(?P<path>\.{0,2}/?[^\s:]*\.go):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$", _M)
_JS_SYNTAX = _Rx(('SyntaxError: ',), r"^(?P<path>/[^\s:]+\.[cm]?[jt]sx?):(?P<line>\d+)\n(?:.*\n){0,3}?\s*\^+\s*\n\s*\nSyntaxError: ", _M, 6)


def _compile(c: _Ctx) -> bool:
    text = c.text
    # Python: a SyntaxError with its location, from the interpreter, py_compile or a test runner.
    m = _PY_SYNTAX.search(text)
    if m and ("File \"" in text or _PY_SYNTAX_WHERE.search(m.group("rest"))):
        c.tool, c.rule = "python", "compile.python_syntax"
        c.add_code(m.group("code"))
        c.first_line(m.group(0))
        where = _PY_SYNTAX_WHERE.search(m.group("rest"))
        if where:
            c.add_file(where.group("path"), where.group("line"))
        frames = _PY_FRAME.finditer(text[: m.start()])
        if frames:
            c.add_file(frames[-1].group("path"), frames[-1].group("line"))
        return True
    hits = list(_TSC.finditer(text))
    if hits:
        c.tool, c.rule = "tsc", "compile.tsc"
        for h in hits:
            if h.group("path"):
                c.add_file(h.group("path"), h.group("line"), h.group("col"))
                c.add_code(h.group("code"))
            else:
                c.add_file(h.group("path2"), h.group("line2"), h.group("col2"))
                c.add_code(h.group("code2"))
        c.tool = "tsc" if c.codes and c.codes[0].startswith("TS") else "csc"
        c.first_line(_line_at(text, hits[0].start()))
        return True
    hits = list(_PYRIGHT.finditer(text))
    if hits:
        c.tool, c.rule = "pyright", "compile.pyright"
        for h in hits:
            c.add_file(h.group("path"), h.group("line"), h.group("col"))
        for g in _PYRIGHT_CODE.finditer(text):
            c.add_code(g.group("code"))
        c.first_line(hits[0].group(0))
        return True
    hits = list(_MYPY.finditer(text))
    if hits:
        c.tool, c.rule = "mypy", "compile.mypy"
        for h in hits:
            c.add_file(h.group("path"), h.group("line"), h.group("col"))
            c.add_code(h.group("code"))
        c.first_line(hits[0].group(0))
        return True
    low = c.lower
    if _RUST_ERROR.search(text) and ("error[e" in low or "could not compile" in low or "aborting due to" in low):
        c.tool = "cargo" if ("cargo" in low or "compiling " in low) else "rustc"
        c.rule = "compile.rust"
        _rust_locations(c)
        return True
    go_hits = list(_GO_ERROR.finditer(text))
    if go_hits and (_GO_HEADER.search(text) or go_hits[0].group("vet") or "[build failed]" in text):
        c.tool = "go vet" if go_hits[0].group("vet") else "go build"
        c.rule = "compile.go"
        for h in go_hits:
            c.add_file(h.group("path"), h.group("line"), h.group("col"))
        c.first_line(go_hits[0].group(0))
        return True
    hits = list(_CC.finditer(text))
    if hits:
        path = hits[0].group("path")
        c.tool = "javac" if path.endswith(".java") else "gcc/clang"
        c.rule = "compile.cc"
        for h in hits:
            c.add_file(h.group("path"), h.group("line"), h.group("col"))
        c.first_line(hits[0].group(0))
        return True
    m = _JS_SYNTAX.search(text)
    if m:
        c.tool, c.rule = "node", "compile.js_syntax"
        c.add_file(m.group("path"), m.group("line"))
        c.add_code("SyntaxError")
        c.first_line(_line_at(text, text.find("SyntaxError: ", m.start())))
        return True
    m = _LINKER.search(text)
    if m:
        c.tool, c.rule = "ld", "compile.link"
        c.add_code("link_error")
        c.first_line(_line_at(text, m.start()))
        return True
    return False


# ---------------------------------------------------------------- lint_error

_LINT_CODE_LINE = _Rx((_CODE_LOCATOR,),
    r"^(?P<path>[^\s:][^:\n]*):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]{1,3}\d{2,4})\b:? (?P<fix>\[\*\] )?", _M)
_RUFF_NEW = _Rx(('-->',),
    r"^(?P<code>[A-Z]{1,4}\d{2,4}|unformatted|invalid-syntax)(?: \[\*\])?:? .*\n\s*--> "
    r"(?P<path>[^\s:][^:\n]*):(?P<line>\d+):(?P<col>\d+)", _M, 1)
_WOULD_REFORMAT = _Rx(('ould reformat',), r"^(?:Would reformat|would reformat):? (?P<path>\S.*?)\s*$", _M)
_ESLINT_ROW = _Rx(('  error  ', '  warning  '),
    r"^\s+(?P<line>\d+):(?P<col>\d+)\s+(?P<sev>error|warning)\s+.+?(?:\s{2,}(?P<rule>[@\w/-]+))?\s*$", _M)
_ESLINT_HEADER = _Re(r"^(?P<path>(?:[A-Za-z]:)?[^\s:]*[\\/]?[^\s]+\.(?:[cm]?[jt]sx?|vue|svelte|json))\s*$", _M)
_ESLINT_SUMMARY = _Rx((' problem',), r"^\s*[✖x] \d+ problems? \(", _M)
_ESLINT_UNIX = _Rx((', col ',),
    r"^(?P<path>[^\s:][^:\n]*): line (?P<line>\d+), col (?P<col>\d+), (?:Error|Warning) - .*?\((?P<rule>[@\w/-]+)\)$",
    _M)
_RUSTFMT = _Rx(('Diff in ',), r"^Diff in (?P<path>\S+?)(?: at line (?P<line>\d+))?:(?:(?P<line2>\d+):)?\s*$", _M)
_SHELLCHECK = _Rx(('^-- SC',), r"^In (?P<path>\S+) line (?P<line>\d+):\n(?:.*\n){1,4}?.*\^-+ (?P<code>SC\d{4})", _M, 5)
_GOLANGCI = _Rx(('.go:',),
    r"^(?P<path>[^\s:]+\.go):(?P<line>\d+):(?P<col>\d+): .* \((?P<code>errcheck|staticcheck|unused|gosimple"
    r"|ineffassign|revive|gocritic|stylecheck|gosec|govet|misspell|lll|unparam|gofmt|goimports|dupl)\)$", _M)
_PRETTIER = _Rx(("[warn] ",), r"^\[warn\] (?P<path>\S+)$", _M)
_PYLINT_SCORE = _Re(r"Your code has been rated at")


def _lint(c: _Ctx) -> bool:
    text = c.text
    hits = list(_RUFF_NEW.finditer(text))
    if hits:
        c.tool, c.rule = "ruff", "lint.ruff"
        for h in hits:
            c.add_file(h.group("path"), h.group("line"), h.group("col"))
            c.add_code(h.group("code"))
        c.first_line(_line_at(text, hits[0].start()))
        return True
    hits = list(_LINT_CODE_LINE.finditer(text))
    if hits:
        low = c.lower
        if any(h.group("fix") for h in hits) or "fixable with the" in low or ("found " in low and " error" in low):
            c.tool = "ruff"
        elif _PYLINT_SCORE.search(text) or re.match(r"[CRWEFI]\d{4}$", hits[0].group("code")):
            c.tool = "pylint"
        else:
            c.tool = "flake8"
        c.rule = "lint." + c.tool
        for h in hits:
            c.add_file(h.group("path"), h.group("line"), h.group("col"))
            c.add_code(h.group("code"))
        c.first_line(_line_at(text, hits[0].start()))
        return True
    rows = list(_ESLINT_ROW.finditer(text))
    if rows and (_ESLINT_SUMMARY.search(text) or _ESLINT_HEADER.search(text)):
        c.tool, c.rule = "eslint", "lint.eslint"
        headers = list(_ESLINT_HEADER.finditer(text))
        for r in rows:
            path = ""
            for h in headers:
                if h.start() < r.start():
                    path = h.group("path")
            if path:
                c.add_file(path, r.group("line"), r.group("col"))
            c.add_code(r.group("rule"))
        c.first_line(rows[0].group(0))
        return True
    for rule, rx, tool in (("eslint", _ESLINT_UNIX, "eslint"), ("rustfmt", _RUSTFMT, "rustfmt"),
                           ("shellcheck", _SHELLCHECK, "shellcheck"), ("golangci", _GOLANGCI, "golangci-lint"),
                           ("format", _WOULD_REFORMAT, "formatter"), ("prettier", _PRETTIER, "prettier")):
        hits = rx.finditer(text)
        if not hits or (tool == "prettier" and "Code style issues" not in text):
            continue
        c.tool, c.rule = tool, "lint." + rule
        for h in hits:
            g = h.groupdict()
            c.add_file(g["path"], g.get("line") or g.get("line2"), g.get("col"))
            c.add_code(g.get("code") or g.get("rule"))
        if tool == "formatter":
            c.tool = "black" if "oh no!" in c.lower or "black" in c.lower else "ruff format"
        c.first_line(hits[0].group(0))
        return True
    if _ESLINT_SUMMARY.search(text) or _PYLINT_SCORE.search(text):
        c.tool = "eslint" if _ESLINT_SUMMARY.search(text) else "pylint"
        c.rule = "lint.summary"
        for r in rows:
            c.add_code(r.group("rule"))
        c.first_line(rows[0].group(0) if rows else None)
        return True
    return False


# ---------------------------------------------------------------- test_fail

_PYTEST_SUMMARY = _Rx((' failed', ' error'),
    r"^(?:=+ )?(?:\d+ (?:passed|skipped|deselected|xfailed|xpassed|warnings?), )*\d+ (?:failed|errors?)\b"
    r".* in [\d.]+s", _M)
_PYTEST_ITEM = _Rx(('FAILED ', 'ERROR '),
    r"^(?P<kind>FAILED|ERROR) (?P<path>[^\s:()]+?\.py)(?:::(?P<name>[^\s]+?))?(?: - .*)?$", _M)
_PYTEST_SECTION = _Rx(('___ ',), r"^_{3,} (?P<name>.+?) _{3,}$", _M)
_UNITTEST_HEAD = _Rx(('FAIL: ', 'ERROR: '), r"^(?P<kind>FAIL|ERROR): (?P<name>\w+) \((?P<where>[\w.]+)\)", _M)
_UNITTEST_SUMMARY = _Rx(('FAILED (',), r"^FAILED \((?:failures|errors)=\d+", _M)
_JEST_BULLET = _Rx(('● ',), r"^\s*● (?P<name>.+?)\s*$", _M)
_JEST_CROSS = _Rx(('✕ ', '× '), r"^\s*[✕×] (?P<name>.+?)(?: \(\d+(?:\.\d+)? ?m?s\))?(?:\s+\d+m?s)?\s*$", _M)
_JEST_SUMMARY = _Rx(('Tests:', 'Test Suites:'), r"^Tests:\s+\d+ failed|^Test Suites:\s+\d+ failed", _M)
_JEST_FAIL_FILE = _Rx(('FAIL ',), r"^\s*FAIL\s+(?P<path>\S+\.[cm]?[jt]sx?)(?: > (?P<name>.+?))?\s*$", _M)
_JS_STACK = _Rx(("at ", "❯ "), r"(?P<path>[^\s():]+\.[cm]?[jt]sx?):(?P<line>\d+):(?P<col>\d+)\)?\s*$", _M)
_VITEST_SUMMARY = _Rx(('Test Files', 'Tests '), r"^\s*Test Files\s+\d+ failed|^\s*Tests\s+\d+ failed", _M)
_TAP_NOT_OK = _Rx(('not ok ',), r"^\s*not ok \d+ - (?P<name>.+?)(?: # .*)?$", _M)
_NODE_SPEC_FAIL = _Rx(('✖ ',), r"^\s*✖ (?P<name>.+?) \([\d.]+ms\)\s*$", _M)
_NODE_FAIL_COUNT = _Rx(('fail ',), r"^(?:# |ℹ )fail [1-9]", _M)
_GO_FAIL = _Rx(('--- FAIL: ',), r"^\s*--- FAIL: (?P<name>\S+) \(", _M)
_GO_TEST_FILE = _Rx(('.go:',), r"^\s+(?:Error Trace:\s+)?(?P<path>[^\s:]+_test\.go|[^\s:]+\.go):(?P<line>\d+):?", _M)
_CARGO_FAILED = _Rx(('... FAILED',), r"^test (?P<name>\S+) \.\.\. FAILED$", _M)
_CARGO_RESULT = _Rx(('test result: FAILED',), r"^test result: FAILED", _M)
_PANIC_AT = _Rx(('panicked at ',), r"panicked at (?P<path>[^\s:]+):(?P<line>\d+):(?P<col>\d+)")
_MOCHA = _Rx((' failing',), r"^\s+\d+ failing\s*$", _M)
_PLAIN_COUNTS = _Rx((' passed, ',), r"^(?:\w+: )?\d+ passed, [1-9]\d* failed", _M)


def _test(c: _Ctx) -> bool:
    text = c.text
    if _PYTEST_SUMMARY.search(text) or "short test summary info" in text or _PYTEST_ITEM.search(text):
        c.tool, c.rule = "pytest", "test.pytest"
        _pytest_context(c)
        return True
    if _UNITTEST_SUMMARY.search(text) or _UNITTEST_HEAD.search(text):
        c.tool, c.rule = "unittest", "test.unittest"
        for m in _UNITTEST_HEAD.finditer(text):
            where = m.group("where")
            c.add_test(where if where.endswith("." + m.group("name")) else where + "." + m.group("name"))
            c.first_line(m.group(0))
        _python_frames(c)
        return True
    if _VITEST_SUMMARY.search(text) or (_JEST_FAIL_FILE.search(text) and " > " in text and "❯" in text):
        c.tool, c.rule = "vitest", "test.vitest"
        for m in _JEST_FAIL_FILE.finditer(text):
            if m.group("name"):
                c.add_test(m.group("name"))
                c.first_line(m.group(0))
        if not c.tests:
            for m in _JEST_CROSS.finditer(text):
                c.add_test(m.group("name"))
        _js_stack(c)
        return True
    if _JEST_SUMMARY.search(text) or _JEST_BULLET.search(text):
        c.tool, c.rule = "jest", "test.jest"
        _jest_context(c)
        return True
    if _NODE_FAIL_COUNT.search(text) or _TAP_NOT_OK.search(text) or _NODE_SPEC_FAIL.search(text):
        c.tool, c.rule = "node:test", "test.node"
        _node_test_context(c)
        return True
    if _GO_FAIL.search(text):
        c.tool, c.rule = "go test", "test.go"
        for m in _GO_FAIL.finditer(text):
            c.add_test(m.group("name"))
            c.first_line(_line_at(text, m.start()))
        for m in _GO_TEST_FILE.finditer(text):
            c.add_file(m.group("path"), m.group("line"))
        return True
    if _CARGO_RESULT.search(text) or _CARGO_FAILED.search(text):
        c.tool, c.rule = "cargo test", "test.cargo"
        for m in _CARGO_FAILED.finditer(text):
            c.add_test(m.group("name"))
            c.first_line(m.group(0))
        for m in _PANIC_AT.finditer(text):
            c.add_file(m.group("path"), m.group("line"), m.group("col"))
        return True
    if _MOCHA.search(text) or _PLAIN_COUNTS.search(text):
        c.tool = "mocha" if _MOCHA.search(text) else c.tool
        c.rule = "test.summary"
        _js_stack(c)
        return True
    return False


def _pytest_context(c: _Ctx) -> None:
    for m in _PYTEST_ITEM.finditer(c.text):
        c.first_line(m.group(0))
        if m.group("name"):
            c.add_test(m.group("name"))
        c.add_file(m.group("path"))
    if not c.tests:
        for m in _PYTEST_SECTION.finditer(c.text):
            name = m.group("name")
            if name.startswith("ERROR at "):
                name = name.split(" of ", 1)[-1]
            if not name.startswith(("ERROR collecting", "Captured ", "warnings summary")):
                c.add_test(name)
    for m in _PY_TEST_FILE_LINE.finditer(c.text):
        c.add_file(m.group("path"), m.group("line"))
    summary = _PYTEST_SUMMARY.search(c.text)
    c.first_line(summary.group(0) if summary else None)


def _jest_context(c: _Ctx) -> None:
    for m in _JEST_BULLET.finditer(c.text):
        if not m.group("name").startswith("Test suite failed to run"):
            c.add_test(m.group("name"))
            c.first_line(m.group(0))
    if not c.tests:
        for m in _JEST_CROSS.finditer(c.text):
            c.add_test(m.group("name"))
    for m in _JEST_FAIL_FILE.finditer(c.text):
        c.add_file(m.group("path"))
    _js_stack(c)


def _js_stack(c: _Ctx) -> None:
    for m in _JS_STACK.finditer(c.text):
        path = m.group("path")
        if "node_modules" not in path and not path.startswith(("node:", "internal/")):
            c.add_file(path, m.group("line"), m.group("col"))


def _node_test_context(c: _Ctx) -> None:
    for m in _TAP_NOT_OK.finditer(c.text):
        c.add_test(m.group("name"))
        c.first_line(m.group(0))
    for m in _NODE_SPEC_FAIL.finditer(c.text):
        c.add_test(m.group("name"))
        c.first_line(m.group(0))
    for m in _NODE_LOCATION.finditer(c.text):
        c.add_file(m.group("path"), m.group("line"), m.group("col"))


# ---------------------------------------------------------------- contract_violation (exceptions)

_VALIDATION_EXC = _Rx(('ValidationError: ',),
    r"^(?P<code>(?:[\w.]+\.)?ValidationError): (?:(?P<n>\d+) validation errors? for (?P<model>\w+)|.+)$", _M)


def _contract_exceptions(c: _Ctx) -> bool:
    m = _VALIDATION_EXC.search(c.text)
    if not m:
        return False
    code = m.group("code")
    if m.group("model"):
        c.tool = "pydantic"
    elif "jsonschema" in code or "Failed validating" in c.text:
        c.tool = "jsonschema"
    else:
        return False
    c.rule = "contract." + c.tool
    c.add_code(code.rsplit(".", 1)[-1])
    c.first_line(m.group(0))
    _python_frames(c)
    return True


# ---------------------------------------------------------------- unknown, with context

_PY_EXC = _Rx(('Error', 'Exception', 'Exit', 'Interrupt', 'Warning'), r"^(?P<code>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)|KeyError)\b:?.*$", _M)
_NODE_EXC = _Rx(('Error: ', 'Error ['), r"^(?P<code>[A-Z]\w*Error)(?: \[\w+\])?: .+$", _M)
_CRASH = _Rx(('Segmentation fault', 'core dumped', 'SIGSEGV', 'SIGABRT', 'Aborted (core', 'Bus error', 'Killed'), r"Segmentation fault|core dumped|SIGSEGV|SIGABRT|Aborted \(core|Bus error|Killed\s*$", _M)
_MAKE = _Rx(('*** ',), r"^make(?:\[\d+\])?: \*\*\* (?P<msg>.+)$", _M)


def _unknown_context(c: _Ctx) -> None:
    text = c.text
    if "Traceback (most recent call last)" in text:
        c.tool, c.rule = "python", "unknown.python_traceback"
        excs = list(_PY_EXC.finditer(text))
        if excs:
            c.add_code(excs[-1].group("code").rsplit(".", 1)[-1])
            c.first_line(excs[-1].group(0))
        _python_frames(c)
        return
    m = _PANIC_AT.search(text)
    if m:
        c.tool, c.rule = "rust", "unknown.rust_panic"
        c.add_file(m.group("path"), m.group("line"), m.group("col"))
        c.add_code("panic")
        c.first_line(_line_at(text, m.start()))
        return
    m = _NODE_EXC.search(text)
    if m and ("Node.js v" in text or "node:internal" in text or _JS_STACK.search(text)):
        c.tool, c.rule = "node", "unknown.node_error"
        c.add_code(m.group("code"))
        c.first_line(m.group(0))
        _js_stack(c)
        return
    m = _CRASH.search(text)
    if m:
        c.rule = "unknown.crash"
        c.add_code("SIGSEGV" if "egmentation" in m.group(0) or "SIGSEGV" in m.group(0) else "crash")
        c.first_line(_line_at(text, m.start()))
        return
    m = _MAKE.search(text)
    if m:
        c.tool, c.rule = "make", "unknown.make"
        c.first_line(m.group(0))
        return
    c.rule = "unknown"


def _python_frames(c: _Ctx) -> None:
    """Record traceback frames: the user's own innermost frames first, library frames after."""
    frames = [(m.group("path"), m.group("line")) for m in _PY_FRAME.finditer(c.text)]
    own = [f for f in frames if not _LIB_PATH.search(f[0])]
    lib = [f for f in frames if _LIB_PATH.search(f[0])]
    for path, line in list(reversed(own)) + list(reversed(lib)):
        c.add_file(path, line)


# ---------------------------------------------------------------- the classifier

RULES: Tuple[Tuple[str, str, Callable[[_Ctx], bool]], ...] = (
    ("budget_exceeded", "budget", _budget),
    ("timeout", "timeout", _timeout),
    ("dependency_missing", "dependency", _dependency),
    ("contract_violation", "contract", _contract_tools),
    ("orchestration_error", "orchestration", _orchestration),
    ("lint_error", "lint.clippy", _clippy),
    ("compile_error", "compile", _compile),
    ("lint_error", "lint", _lint),
    ("test_fail", "test", _test),
    ("contract_violation", "contract", _contract_exceptions),
)


def _prepare(text: str) -> str:
    if len(text) > 2 * MAX_SCAN_CHARS:
        head = text[:MAX_SCAN_CHARS]
        tail = text[-MAX_SCAN_CHARS:]
        text = head[: head.rfind("\n") + 1 or None] + "\n" + tail[tail.find("\n") + 1:]
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def classify(text: Optional[str], *, tool: Optional[str] = None, exit_code: Optional[int] = None) -> Failure:
    """Classify a failure from its text, the tool that produced it and its exit code.

    `text` is whatever the failure printed (stdout and stderr, or an error message); a leading
    "Exit code N" line, as Claude Code reports a failed Bash call, supplies the exit code when
    none is given. `tool` is the caller's name for what ran (e.g. Claude Code's tool name); the
    context's `tool` prefers the program recognised in the text. Never raises: the telemetry
    hook calls this, and a classifier bug must cost one classification, not the hook.
    """
    try:
        return _classify(text, tool, exit_code)
    except Exception as exc:  # a classifier bug must not break the hook (see the docstring)
        return Failure("unknown", {"tool": tool, "files": [], "tests": [], "missing": None, "codes": [],
                                   "first_error_line": None, "exit_code": None,
                                   "classifier_error": type(exc).__name__}, "classify.error")


def _classify(text: Optional[str], tool: Optional[str], exit_code: Optional[int]) -> Failure:
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    if exit_code is not None and not isinstance(exit_code, int):
        exit_code = _int(exit_code)
    m = _EXIT_PREFIX.match(raw)
    if m:
        if exit_code is None:
            exit_code = int(m.group(1))
        raw = raw[m.end():]
    c = _Ctx(_prepare(raw), exit_code)
    failure_class = "unknown"
    for cls, rule_name, rule in RULES:
        if rule(c):
            failure_class = cls
            if not c.rule:
                c.rule = rule_name
            break
    else:
        if exit_code == 127 and not c.text.strip():
            failure_class, c.rule = "dependency_missing", "dependency.exit_127"
        else:
            _unknown_context(c)
    if c.first is None:
        m = _ERROR_WORD.search(c.lower)
        if m:
            c.first_line(c.line_of(m))
        else:
            c.first_line(next((ln for ln in c.text.splitlines() if ln.strip()), None))
    with_line = {f["path"] for f in c.files if f["line"] is not None}
    context: Dict[str, Any] = {
        "tool": c.tool or tool,
        "files": [f for f in c.files if f["line"] is not None or f["path"] not in with_line],
        "tests": c.tests,
        "missing": c.missing,
        "codes": c.codes,
        "first_error_line": c.first,
        "exit_code": exit_code,
    }
    return Failure(failure_class, context, c.rule)
