#!/usr/bin/env bash
# Checks the user documents (README.md, docs/*.md) against the tree and the
# binary. Prints TAP lines and exits non-zero if any check fails:
#   - every relative Markdown link [text](path#anchor) names an existing
#     file, and an anchor that one of that file's headings produces
#     (GitHub's slug rules);
#   - every `danshari CMD` shown in code (inline or fenced; not after
#     "-u ", "a ", "the ", "Description=" or "/", which name the user or the
#     project; `build/danshari` and `/usr/local/bin/danshari` count) is a command the
#     binary lists in `danshari --help`, and for commands with subcommands
#     (tx, gov, contract, credit) `danshari CMD SUB` names a listed one.
# Usage: scripts/check_docs.sh      (DANSHARI_BIN defaults to build/danshari)
set -u
cd "$(dirname "$0")/.."
bin=${DANSHARI_BIN:-build/danshari}

if ! command -v python3 >/dev/null 2>&1; then
  echo "1..0 # SKIP python3 is not installed"
  exit 0
fi
if [ ! -x "$bin" ]; then
  echo "check_docs.sh: $bin is not built (run 'make' or set DANSHARI_BIN)" >&2
  exit 2
fi

help_dir=$(mktemp -d)
trap 'rm -rf "$help_dir"' EXIT
"$bin" --help >"$help_dir/top" 2>&1 || true
for c in tx gov contract credit; do
  "$bin" "$c" --help >"$help_dir/$c" 2>&1 || true
done

python3 - "$help_dir" README.md docs/*.md <<'PY'
import os, re, sys

help_dir, files = sys.argv[1], sys.argv[2:]
top = open(os.path.join(help_dir, "top")).read()
commands = set(re.findall(r"^  ([a-z][a-z0-9-]*)\s", top, re.M))
subhelp = {c: open(os.path.join(help_dir, c)).read() for c in ("tx", "gov", "contract", "credit")}

def slug(text):
    s = text.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")

def split_code(md):
    """Returns (prose lines with code spans removed, list of code texts)."""
    prose, code, fence = [], [], False
    for line in md.split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence:
            code.append(line)
            continue
        code.extend(re.findall(r"`([^`]+)`", line))
        prose.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(prose), code

anchors_cache = {}
def anchors(path):
    if path not in anchors_cache:
        seen, out, fence = {}, set(), False
        for line in open(path, encoding="utf-8").read().split("\n"):
            if line.lstrip().startswith("```"):
                fence = not fence
            if fence:
                continue
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else "%s-%d" % (base, n))
        anchors_cache[path] = out
    return anchors_cache[path]

n = 0
failed = 0
def tap(ok, what):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, what))

for f in files:
    md = open(f, encoding="utf-8").read()
    prose, code = split_code(md)
    bad = []
    links = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", prose)
    for target in links:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto:
        path, _, frag = target.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        if not os.path.exists(full):
            bad.append("%s: missing file %s" % (target, full))
            continue
        if frag and full.endswith(".md") and frag not in anchors(full):
            bad.append("%s: no heading gives anchor #%s in %s" % (target, frag, full))
    tap(not bad, "%s: %d relative links resolve" % (f, len(links)) +
        ("".join("\n#   " + b for b in bad)))

    bad = set()
    mentioned = set()
    for text in code:
        for m in re.finditer(r"(?<![\w/.-])(?<!-u )(?<!a )(?<!the )(?<!Description=)"
                             r"(?:(?:\./)?build[\w-]*/|/usr/(?:local/)?bin/)?"
                             r"danshari ([a-z][a-z0-9-]*)(?: ([a-z][a-z0-9-]*))?", text):
            cmd, sub = m.group(1), m.group(2)
            mentioned.add(cmd)
            if cmd not in commands:
                bad.add("danshari %s: not a command of the binary" % cmd)
            elif sub and cmd in subhelp and not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(sub), subhelp[cmd]):
                bad.add("danshari %s %s: not a subcommand" % (cmd, sub))
    tap(not bad, "%s: %d commands shown exist" % (f, len(mentioned)) +
        ("".join("\n#   " + b for b in sorted(bad))))

print("1..%d" % n)
print("%d passed, %d failed" % (n - failed, failed))
sys.exit(1 if failed else 0)
PY
