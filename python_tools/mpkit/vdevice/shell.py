"""A small shell for the virtual device: `; && || |`, `$?`, `export`, `exec`, redirections —
and commands answered from the device's own table, never the host's /bin/sh."""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

OPERATORS = {";", "&&", "||", "|"}
REDIRECTS = {"<", ">", ">>", "2>", "2>>", ">&", "2>&"}


@dataclass
class Result:
    out: bytes = b""
    err: bytes = b""
    rc: int = 0


Command = Callable[[list[str], bytes], Awaitable[Result]]


def tokenize(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    out: list[str] = []
    for tok in lexer:
        # "2>&1" arrives as "2", ">&", "1" and "2>" as "2", ">": glue the fd number back on
        # (so a bare argument "2" right before a redirection is read as the fd, as sh does).
        if tok in (">", ">>", ">&") and out and out[-1] == "2":
            out[-1] = "2" + tok
        else:
            out.append(tok)
    return out


class Shell:
    """`lookup(name)` returns the command for a name or None; `files` resolves redirections."""

    def __init__(self, lookup: Callable[[str], Command | None], files):
        self.lookup, self.files = lookup, files
        self.status = 0

    async def run(self, line: str, stdin: bytes = b"") -> Result:
        try:
            tokens = tokenize(line)
        except ValueError as e:
            return Result(err=f"/system/bin/sh: syntax error: {e}\n".encode(), rc=2)
        out, err = b"", b""
        segments, ops = _split(tokens)
        skip = False
        for i, pipeline in enumerate(segments):
            if not skip:
                result = await self._pipeline(pipeline, stdin)
                out, err = out + result.out, err + result.err
                self.status = result.rc
            op = ops[i] if i < len(ops) else ";"
            skip = (op == "&&" and self.status != 0) or (op == "||" and self.status == 0)
        return Result(out, err, self.status)

    async def _pipeline(self, tokens: list[str], stdin: bytes) -> Result:
        parts, current = [], []
        for tok in tokens:
            if tok == "|":
                parts.append(current)
                current = []
            else:
                current.append(tok)
        parts.append(current)
        data, err, rc = stdin, b"", 0
        for words in parts:
            result = await self._simple(words, data)
            data, err, rc = result.out, err + result.err, result.rc
        return Result(data, err, rc)

    async def _simple(self, words: list[str], stdin: bytes) -> Result:
        words = [w.replace("$?", str(self.status)) for w in words]
        args, redirects = [], []
        it = iter(words)
        for w in it:
            if w in REDIRECTS:
                redirects.append((w, next(it, "")))
            else:
                args.append(w)
        while args and ("=" in args[0] and not args[0].startswith("=")):
            args.pop(0)  # VAR=value prefix
        if args[:1] == ["exec"]:
            args = args[1:]
        if not args:
            return Result()
        if args[0] == "export":
            return Result()
        for op, target in redirects:
            if op == "<":
                stdin = b"" if target == "/dev/null" else self.files.read(target)
        command = self.lookup(args[0])
        if command is None:
            result = Result(err=f"/system/bin/sh: {args[0]}: inaccessible or not found\n".encode(),
                            rc=127)
        else:
            result = await command(args[1:], stdin)
        for op, target in redirects:
            if op == "2>&" and target == "1":
                result = Result(result.out + result.err, b"", result.rc)
            elif op in (">", ">>"):
                if target != "/dev/null":
                    self.files.write(target, result.out, append=op == ">>")
                result = Result(b"", result.err, result.rc)
            elif op in ("2>", "2>>"):
                result = Result(result.out, b"", result.rc)
        return result


def _split(tokens: list[str]) -> tuple[list[list[str]], list[str]]:
    segments, ops, current = [], [], []
    for tok in tokens:
        if tok in (";", "&&", "||"):
            segments.append(current)
            ops.append(tok)
            current = []
        else:
            current.append(tok)
    segments.append(current)
    return segments, ops
