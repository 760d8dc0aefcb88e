"""Transcribes the Go test tables of distribution/reference, moby/patternmatcher and the OCI image-spec into
tests/data/{reference,patternmatcher,image-spec}/cases.json, which tests/conformance_refs.rs runs through hoist.

Usage: go_tables.py MIRRORS, where MIRRORS/<owner>+<name> are bare clones of the three repositories
(distribution+reference, moby+patternmatcher, opencontainers+image-spec); each file records the commit read.
Understands the subset of Go the tables use: string literals, bools, ints, identifiers, composite literals,
strings.Repeat and +."""
import json, os, re, subprocess, sys

MIRRORS = sys.argv[1] if len(sys.argv) > 1 else '.'

def lex(src, i):
    toks = []
    depth = 0
    n = len(src)
    while i < n:
        c = src[i]
        if c in ' \t\r\n':
            i += 1
        elif src.startswith('//', i):
            i = src.index('\n', i)
        elif c == '"':
            j = i + 1
            while src[j] != '"':
                j += 2 if src[j] == '\\' else 1
            toks.append(('s', json.loads(src[i:j + 1].replace("\\'", "'"))))
            i = j + 1
        elif c == '`':
            j = src.index('`', i + 1)
            toks.append(('s', src[i + 1:j]))
            i = j + 1
        elif c in '{}(),:+[]':
            toks.append(('p', c))
            if c == '{': depth += 1
            if c == '}':
                depth -= 1
                if depth == 0:
                    return toks
            i += 1
        else:
            m = re.match(r'[A-Za-z0-9_.]+', src[i:])
            if not m:
                raise SystemExit(f'cannot lex at {src[i:i+40]!r}')
            toks.append(('w', m.group(0)))
            i += len(m.group(0))
    return toks

class P:
    def __init__(self, toks): self.t, self.i = toks, 0
    def peek(self): return self.t[self.i] if self.i < len(self.t) else (None, None)
    def take(self): tok = self.t[self.i]; self.i += 1; return tok
    def expect(self, v):
        tok = self.take()
        assert tok == ('p', v), (tok, v, self.t[self.i-5:self.i+5])
    def composite(self):
        self.expect('{')
        items, keyed = [], {}
        while self.peek() != ('p', '}'):
            k = None
            if self.peek()[0] == 'w' and self.t[self.i + 1] == ('p', ':'):
                k = self.take()[1]; self.take()
            v = self.expr()
            if k is None: items.append(v)
            else: keyed[k] = v
            if self.peek() == ('p', ','): self.take()
        self.expect('}')
        return keyed if keyed else items
    def expr(self):
        v = self.term()
        while self.peek() == ('p', '+'):
            self.take(); v = v + self.term()
        return v
    def term(self):
        kind, v = self.peek()
        if kind == 's': self.take(); return v
        if (kind, v) == ('p', '{'): return self.composite()
        if (kind, v) == ('p', '['):  # []string{...}
            self.take(); self.expect(']'); self.take(); return self.composite()
        self.take()
        if v == 'strings.Repeat':
            self.expect('('); s = self.expr(); self.expect(','); n = int(self.take()[1]); self.expect(')')
            return s * n
        if v in ('digest.Digest', 'string'):
            self.expect('('); s = self.expr(); self.expect(')'); return s
        if v == 'true': return True
        if v == 'false': return False
        if v == 'nil': return None
        if re.fullmatch(r'-?\d+', v): return int(v)
        if self.peek() == ('p', '{'):  # a typed composite: T{...}
            return self.composite()
        return {'ident': v}


def show(repo, path):
    return subprocess.run(['git', '-C', os.path.join(MIRRORS, repo, 'repo') if os.path.isdir(os.path.join(MIRRORS, repo, 'repo')) else os.path.join(MIRRORS, repo), 'show', f'HEAD:{path}'], capture_output=True, text=True, check=True).stdout
def head(repo):
    return subprocess.run(['git', '-C', os.path.join(MIRRORS, repo, 'repo') if os.path.isdir(os.path.join(MIRRORS, repo, 'repo')) else os.path.join(MIRRORS, repo), 'log', '-1', '--format=%H %cs'], capture_output=True, text=True, check=True).stdout.split()
def lit(src, after, opener):
    i = src.index(after); i = src.index(opener, i) + len(opener) - 1
    return P(lex(src, i)).composite()

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data') + '/'
# distribution/reference
r = 'distribution+reference'; c, d = head(r)
ref, norm = show(r, 'reference_test.go'), show(r, 'normalize_test.go')
def idents(x):
    return {k: (v['ident'] if isinstance(v, dict) else v) for k, v in x.items()}
doc = {
    'upstream': 'github.com/distribution/reference', 'commit': c, 'date': d, 'licence': 'Apache-2.0',
    'parse': {'from': 'reference_test.go TestReferenceParse', 'cases': [idents(x) for x in lit(ref, 'func TestReferenceParse', '}{')]},
    'parse_named': {'from': 'reference_test.go TestParseNamed', 'cases': [idents(x) for x in lit(ref, 'func TestParseNamed', '}{')]},
    'valid_names': {'from': 'normalize_test.go TestValidateReferenceName validRepoNames', 'cases': lit(norm, 'validRepoNames :=', '[]string{')},
    'invalid_names': {'from': 'normalize_test.go TestValidateReferenceName invalidRepoNames', 'cases': lit(norm, 'invalidRepoNames :=', '[]string{')},
    'repository_info': {'from': 'normalize_test.go TestParseRepositoryInfo', 'cases': lit(norm, 'func TestParseRepositoryInfo', '[]tcase{')},
}
json.dump(doc, open(out + 'reference/cases.json', 'w'), indent=1); open(out + 'reference/cases.json', 'a').write('\n')
print('reference', {k: len(v['cases']) for k, v in doc.items() if isinstance(v, dict)})

# moby/patternmatcher
r = 'moby+patternmatcher'; c, d = head(r)
pm = show(r, 'patternmatcher_test.go')
matches = lit(pm, 'func TestMatches', '[]matchesTestCase{')
matches += lit(pm, 'runtime.GOOS != "windows"', '[]matchesTestCase{')
doc = {
    'upstream': 'github.com/moby/patternmatcher', 'commit': c, 'date': d, 'licence': 'Apache-2.0',
    'matches': {'from': 'patternmatcher_test.go TestMatches tests (with the non-Windows additions)', 'cases': [{'patterns': [p], 'text': t, 'pass': ok} for p, t, ok in matches]},
    'multi_pattern': {'from': 'patternmatcher_test.go TestMatches multiPatternTests', 'cases': [{'patterns': p, 'text': t, 'pass': ok} for p, t, ok in lit(pm, 'multiPatternTests :=', '[]multiPatternTestCase{')]},
    'match': {'from': 'patternmatcher_test.go matchTests (Go filepath.Match tests) as TestMatch runs them through Matches()', 'cases': [{'pattern': p, 'text': s, 'match': m, 'err': (e['ident'] if e else None)} for p, s, m, e in lit(pm, 'var matchTests', '[]matchTest{')]},
}
json.dump(doc, open(out + 'patternmatcher/cases.json', 'w'), indent=1); open(out + 'patternmatcher/cases.json', 'a').write('\n')
print('patternmatcher', {k: len(v['cases']) for k, v in doc.items() if isinstance(v, dict)})

# opencontainers/image-spec
r = 'opencontainers+image-spec'; c, d = head(r)
doc = {'upstream': 'github.com/opencontainers/image-spec', 'commit': c, 'date': d, 'licence': 'Apache-2.0'}
for name, f, fn, field in [('manifest', 'schema/manifest_test.go', 'func TestManifest', 'manifest'), ('index', 'schema/imageindex_test.go', 'func TestImageIndex', 'imageIndex'), ('descriptor', 'schema/descriptor_test.go', 'func TestDescriptor', 'descriptor')]:
    src = show(r, f)
    # keep each case's comment: the line before its "{"
    cases = lit(src, fn, '}{')
    body = src[src.index(fn):]
    comments = [l.strip()[2:].strip() for l in body.split('\n') if l.strip().startswith('// ') and ('expect' in l or 'valid' in l or 'fail' in l or 'zero' in l)]
    for x in cases: x['doc'] = x.pop([k for k in x if k not in ('fail',)][0])
    assert len(comments) == len(cases), (name, len(comments), len(cases))
    for comment, x in zip(comments, cases):
        x['what'] = comment
    doc[name] = {'from': f'{f} {fn[5:]}', 'cases': cases}
    print(name, len(cases), len(comments))
json.dump(doc, open(out + 'image-spec/cases.json', 'w'), indent=1); open(out + 'image-spec/cases.json', 'a').write('\n')
