//! Go templates for `--format`, as podman's (`text/template` with containers/common's functions), rendered
//! over the JSON value of the object a command prints with `--format json`: field names are podman's JSON
//! keys (`{{.Id}}`, `{{.Config.Cmd}}`, `{{index .Config.Labels "k"}}`).
//!
//! # The API every command uses
//!
//! ```text
//! let t = Template::parse(format)?;            // one clear TemplateError on a bad template (exit 125)
//! let text = t.render(&value)?;                // one object: the text, podman's "\n" added when missing
//! let text = t.render_rows(&rows, Some(&headers))?; // a listing: one render per row; `table ...` adds
//!                                              // the header line and aligns the tab-separated columns
//! printer.rendered(&text)?;                    // written as is (data already escaped for the terminal)
//! let headers = template::headers(&["ID", "CreatedBy"], &[("ID", "IMAGE ID")]); // ID → "IMAGE ID",
//!                                              // CreatedBy → "CREATED BY" (podman's camel-case split)
//! template::is_json(format)                    // "json" or "{{json .}}": print the JSON instead
//! ```
//!
//! As podman: a `table` prefix is removed (rows then get a header line and columns aligned two spaces
//! apart, at least 12 wide, as Go's tabwriter); the two-character escapes `\t` and `\n` in the format are a
//! tab and a newline; a newline ends each render when the format does not end with one.
//!
//! # The subset of Go templates
//!
//! Actions `{{pipeline}}`, `{{- ` and ` -}}` trimming, comments `{{/* */}}`; `if`/`else if`/`else`/`end`,
//! `range` (over arrays and maps, maps in key order; `{{range $i, $v := ...}}`, `{{range $v := ...}}`,
//! `{{else}}`), `with`; variables (`$`, `$x := ...`, `$x = ...`), fields `.A.B` on `.`, on variables and on
//! `(...)`; pipelines `a | f b`; string (`"..."`, `` `...` ``), number, `true`/`false`/`nil` literals.
//! Functions: Go's `and or not len index print printf println eq ne lt le gt ge slice`-less set (`printf`
//! knows `%s %v %d %q %%` with a width and `-`), and podman's `json lower upper title join split truncate`.
//! Not supported (refused when parsed): `define`, `template`, `block`, `break`, `continue`.
//!
//! Values print as Go's `%v` prints them: arrays `[a b]`, maps `map[k:v]` (Go structs print `{v1 v2}`:
//! here every object prints as a map), times as their RFC 3339 text (Go prints `2024-01-02 03:04:05 +0000
//! UTC`), JSON null `<nil>`. A field missing on the rendered object itself is an error, as on podman's
//! structs (`can't evaluate field Nope`); missing deeper down (a label, an omitted config field) it is
//! empty, as Go's zero value. Text from the data is escaped for the terminal (`observe::terminal_safe`); the
//! format's own text is printed as given.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hoist_core::observe::terminal_safe;
use serde_json::Value;

/// Why a template could not be parsed or rendered; one line, as Go's text/template says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template: {}", self.0)
    }
}

impl std::error::Error for TemplateError {}

fn err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(msg.into()))
}

/// How deep blocks and parentheses may nest, and how much text one render may make.
const MAX_DEPTH: usize = 100;
const MAX_OUTPUT: usize = 64 << 20;

/// A parsed `--format` template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
    table: bool,
}

/// Whether `format` asks for the JSON output itself (podman's `json` and `{{json .}}`).
pub fn is_json(format: &str) -> bool {
    let f = format.trim();
    if f.eq_ignore_ascii_case("json") {
        return true;
    }
    let Some(inner) = f.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")) else { return false };
    let words: Vec<&str> = inner.split_whitespace().collect();
    words == ["json", "."]
}

/// The header row's values for `table` formats: each key's podman header (`CreatedBy` → `CREATED BY`, `ID` →
/// `ID`), `overrides` (key, header) replacing some.
pub fn headers(keys: &[&str], overrides: &[(&str, &str)]) -> Value {
    let mut map = serde_json::Map::new();
    for k in keys {
        map.insert((*k).to_owned(), Value::String(camel_split(k).join(" ").to_uppercase()));
    }
    for (k, v) in overrides {
        map.insert((*k).to_owned(), Value::String(v.to_uppercase()));
    }
    Value::Object(map)
}

/// Go's `camelcase.Split` for identifiers: `CreatedBy` → `Created By`, `ID` → `ID`, `RepoTags` → `Repo Tags`.
fn camel_split(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let boundary = i > 0
            && ((c.is_uppercase() && chars[i - 1].is_lowercase())
                || (c.is_uppercase()
                    && chars[i - 1].is_uppercase()
                    && chars.get(i + 1).is_some_and(|n| n.is_lowercase())));
        if boundary && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

impl Template {
    /// Parses a `--format` value: podman's `table` prefix and `\t`/`\n` escapes, then the template.
    pub fn parse(format: &str) -> Result<Template, TemplateError> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) => (true, rest.strip_prefix(' ').unwrap_or(rest)),
            None => (false, format),
        };
        let mut text = body.replace("\\t", "\t").replace("\\n", "\n");
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let items = lex(&text)?;
        let mut p = Parser { items, pos: 0, depth: 0 };
        let (nodes, end) = p.list()?;
        match end {
            Closer::Eof => Ok(Template { nodes, table }),
            Closer::End => err("unexpected {{end}}"),
            Closer::Else(_) => err("unexpected {{else}}"),
        }
    }

    /// Whether rendering may read the field `name` of the object (`{{.Size}}`, `{{index . "Size"}}`, or the
    /// whole object: `{{.}}`, `{{json .}}`, `{{$}}`). Conservative: a caller skips work for a field only when
    /// this says no (`inspect` does not unpack layers to count sizes for `{{.Id}}`).
    pub fn mentions(&self, name: &str) -> bool {
        mentions(&self.nodes, name, true)
    }

    /// The text for one object.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut st = State { vars: vec![("$".into(), data.clone())], out: &mut out, header: false };
        st.walk(&self.nodes, data, true)?;
        Ok(out)
    }

    /// The text for a listing: each row rendered in turn; with `table`, the columns aligned and first, when
    /// `headers` are given, the header line (the template rendered over `headers`, see [`headers`]; a field
    /// they lack shows `<no value>`, as podman's). `podman inspect` has no header line: `None`.
    pub fn render_rows(&self, rows: &[Value], headers: Option<&Value>) -> Result<String, TemplateError> {
        let mut out = String::new();
        if let (true, Some(headers)) = (self.table, headers) {
            let mut st = State { vars: vec![("$".into(), headers.clone())], out: &mut out, header: true };
            st.walk(&self.nodes, headers, true)?;
        }
        for row in rows {
            out.push_str(&self.render(row)?);
            if out.len() > MAX_OUTPUT {
                return err(format!("output larger than {MAX_OUTPUT} bytes"));
            }
        }
        Ok(if self.table { align(&out) } else { out })
    }
}

/// Go's tabwriter as podman sets it up (minimum width 12, padding 2, spaces): tab-ended cells of a column
/// padded to the column's widest; the text after a line's last tab is left as it is.
fn align(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.split_inclusive('\n').map(|l| l.split('\t').collect()).collect();
    let mut widths: Vec<usize> = Vec::new();
    for cells in &lines {
        for (i, c) in cells.iter().take(cells.len() - 1).enumerate() {
            let w = c.chars().count();
            if widths.len() <= i {
                widths.push(0);
            }
            widths[i] = widths[i].max(w);
        }
    }
    let mut out = String::with_capacity(text.len());
    for cells in &lines {
        let last = cells.len() - 1;
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i < last {
                let w = (widths[i] + 2).max(12);
                out.extend(std::iter::repeat_n(' ', w - c.chars().count()));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Lexing: text and actions.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Dot,
    Var(String, Vec<String>),
    Str(String),
    Num(f64, String),
    Ident(String),
    Pipe,
    LParen,
    RParen(Vec<String>),
    Declare,
    Assign,
    Comma,
}

#[derive(Debug)]
enum Item {
    Text(String),
    Action(Vec<Tok>),
}

fn lex(src: &str) -> Result<Vec<Item>, TemplateError> {
    let mut items = Vec::new();
    let mut rest = src;
    let mut line = 1;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_owned();
        let mut inner = &rest[start + 2..];
        if inner.starts_with("- ") || inner.starts_with("-\t") || inner.starts_with("-\n") {
            text.truncate(text.trim_end().len());
            inner = &inner[1..];
        }
        line += text.matches('\n').count();
        if !text.is_empty() {
            items.push(Item::Text(text));
        }
        let end = action_end(inner).ok_or_else(|| TemplateError(format!("{line}: unclosed action")))?;
        let mut body = &inner[..end];
        let mut after = &inner[end + 2..];
        if body.ends_with(" -") || body.ends_with("\t-") || body.ends_with("\n-") {
            body = &body[..body.len() - 1];
            after = after.trim_start();
        }
        let trimmed = body.trim();
        if trimmed.starts_with("/*") {
            if !trimmed.ends_with("*/") {
                return err(format!("{line}: unclosed comment"));
            }
        } else {
            items.push(Item::Action(tokens(body).map_err(|e| TemplateError(format!("{line}: {}", e.0)))?));
        }
        line += body.matches('\n').count();
        rest = after;
    }
    if !rest.is_empty() {
        items.push(Item::Text(rest.to_owned()));
    }
    Ok(items)
}

/// Where the action starting at `s` ends (the index of its `}}`), strings skipped.
fn action_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `.A.B` after an operand: the field names.
fn field_chain(chars: &[char], i: &mut usize) -> Vec<String> {
    let mut fields = Vec::new();
    while *i < chars.len() && chars[*i] == '.' && chars.get(*i + 1).is_some_and(|c| is_ident_char(*c)) {
        *i += 1;
        let start = *i;
        while *i < chars.len() && is_ident_char(chars[*i]) {
            *i += 1;
        }
        fields.push(chars[start..*i].iter().collect());
    }
    fields
}

fn tokens(body: &str) -> Result<Vec<Tok>, TemplateError> {
    let chars: Vec<char> = body.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '.' if chars.get(i + 1).is_some_and(|c| is_ident_char(*c)) => {
                toks.push(Tok::Field(field_chain(&chars, &mut i)))
            }
            '.' => {
                toks.push(Tok::Dot);
                i += 1;
            }
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                toks.push(Tok::Var(name, field_chain(&chars, &mut i)));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return err("unterminated quoted string"),
                        Some('"') => break,
                        Some('\\') => {
                            let e =
                                chars.get(i + 1).ok_or_else(|| TemplateError("unterminated quoted string".into()))?;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '\\' => '\\',
                                '"' => '"',
                                '\'' => '\'',
                                '0' => '\0',
                                other => return err(format!("unknown escape sequence \\{other}")),
                            });
                            i += 2;
                        }
                        Some(c) => {
                            s.push(*c);
                            i += 1;
                        }
                    }
                }
                i += 1;
                toks.push(Tok::Str(s));
            }
            '`' => {
                let start = i + 1;
                let Some(len) = chars[start..].iter().position(|c| *c == '`') else {
                    return err("unterminated raw quoted string");
                };
                toks.push(Tok::Str(chars[start..start + len].iter().collect()));
                i = start + len + 1;
            }
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                i += 1;
                toks.push(Tok::RParen(field_chain(&chars, &mut i)));
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+') && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '_') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n: f64 =
                    text.replace('_', "").parse().map_err(|_| TemplateError(format!("bad number syntax: {text:?}")))?;
                toks.push(Tok::Num(n, text));
            }
            c if is_ident_char(c) => {
                let start = i;
                while i < chars.len() && is_ident_char(chars[i]) {
                    i += 1;
                }
                toks.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return err(format!("bad character {:?} in action", other)),
        }
    }
    Ok(toks)
}

// ---------------------------------------------------------------------------------------------------------
// Parsing.

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If { pipe: Pipeline, then: Vec<Node>, otherwise: Vec<Node> },
    With { pipe: Pipeline, then: Vec<Node>, otherwise: Vec<Node> },
    Range { pipe: Pipeline, body: Vec<Node>, otherwise: Vec<Node> },
}

#[derive(Debug, Clone)]
struct Pipeline {
    /// Variables declared (`:=`) or assigned (`=`): `range $i, $v := ...` has two.
    decl: Vec<String>,
    assign: bool,
    cmds: Vec<Vec<Operand>>,
}

#[derive(Debug, Clone)]
enum Operand {
    Field(Vec<String>),
    Dot,
    Var(String, Vec<String>),
    Lit(Value),
    Nil,
    Func(String),
    Sub(Box<Pipeline>, Vec<String>),
}

enum Closer {
    Eof,
    End,
    /// `{{else}}`, or `{{else if ...}}` / `{{else with ...}}` (the keyword and the rest of the action).
    Else(Option<(String, Vec<Tok>)>),
}

struct Parser {
    items: Vec<Item>,
    pos: usize,
    depth: usize,
}

const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le", "gt", "ge", "json",
    "lower", "upper", "title", "join", "split", "truncate",
];

impl Parser {
    fn list(&mut self) -> Result<(Vec<Node>, Closer), TemplateError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err("blocks nested too deep");
        }
        let mut nodes = Vec::new();
        while self.pos < self.items.len() {
            let item = std::mem::replace(&mut self.items[self.pos], Item::Text(String::new()));
            self.pos += 1;
            match item {
                Item::Text(t) => nodes.push(Node::Text(t)),
                Item::Action(toks) => {
                    if let Some(node) = self.action(toks, &mut nodes)? {
                        self.depth -= 1;
                        return Ok((nodes, node));
                    }
                }
            }
        }
        self.depth -= 1;
        Ok((nodes, Closer::Eof))
    }

    /// One action: a node pushed to `nodes`, or the end of the enclosing list.
    fn action(&mut self, toks: Vec<Tok>, nodes: &mut Vec<Node>) -> Result<Option<Closer>, TemplateError> {
        let keyword = match toks.first() {
            Some(Tok::Ident(k)) => k.clone(),
            _ => String::new(),
        };
        match keyword.as_str() {
            "end" if toks.len() == 1 => Ok(Some(Closer::End)),
            "end" => err("unexpected tokens after {{end}}"),
            "else" => match toks.get(1) {
                None => Ok(Some(Closer::Else(None))),
                Some(Tok::Ident(k)) if k == "if" || k == "with" => {
                    Ok(Some(Closer::Else(Some((k.clone(), toks[2..].to_vec())))))
                }
                _ => err("unexpected tokens after {{else}}"),
            },
            "if" | "with" | "range" => {
                let node = self.block(&keyword, toks[1..].to_vec())?;
                nodes.push(node);
                Ok(None)
            }
            "define" | "template" | "block" | "break" | "continue" => {
                err(format!("{{{{{keyword}}}}} is not supported"))
            }
            _ => {
                nodes.push(Node::Action(pipeline(&toks)?));
                Ok(None)
            }
        }
    }

    fn block(&mut self, keyword: &str, toks: Vec<Tok>) -> Result<Node, TemplateError> {
        let pipe = pipeline(&toks)?;
        if keyword != "range" && pipe.decl.len() > 1 {
            return err(format!("too many declarations in {keyword}"));
        }
        if pipe.decl.len() > 2 {
            return err("too many declarations in range");
        }
        if pipe.cmds.is_empty() {
            return err(format!("missing value for {keyword}"));
        }
        let (then, end) = self.list()?;
        let otherwise = match end {
            Closer::Eof => return err(format!("unexpected EOF: {{{{{keyword}}}}} without {{{{end}}}}")),
            Closer::End => Vec::new(),
            Closer::Else(None) => match self.list()? {
                (nodes, Closer::End) => nodes,
                _ => return err("expected {{end}} after {{else}}"),
            },
            Closer::Else(Some((k, rest))) if keyword != "range" => {
                // `{{else if x}}...{{end}}` is `{{else}}{{if x}}...{{end}}{{end}}`: one {{end}} closes both.
                vec![self.block(&k, rest)?]
            }
            Closer::Else(Some(_)) => return err("{{else if}} inside {{range}}"),
        };
        Ok(match keyword {
            "if" => Node::If { pipe, then, otherwise },
            "with" => Node::With { pipe, then, otherwise },
            _ => Node::Range { pipe, body: then, otherwise },
        })
    }
}

/// A pipeline: `[$x[, $y] :=|=] cmd | cmd ...`.
fn pipeline(toks: &[Tok]) -> Result<Pipeline, TemplateError> {
    let mut decl = Vec::new();
    let mut assign = false;
    let mut rest = toks;
    let decl_end = toks.iter().position(|t| matches!(t, Tok::Declare | Tok::Assign));
    if let Some(at) = decl_end {
        let vars = &toks[..at];
        let ok = !vars.is_empty()
            && vars.iter().enumerate().all(|(i, t)| match t {
                Tok::Var(_, f) if i % 2 == 0 => f.is_empty(),
                Tok::Comma => i % 2 == 1,
                _ => false,
            })
            && vars.len() % 2 == 1;
        if ok {
            decl = vars
                .iter()
                .filter_map(|t| match t {
                    Tok::Var(n, _) => Some(n.clone()),
                    _ => None,
                })
                .collect();
            assign = matches!(toks[at], Tok::Assign);
            rest = &toks[at + 1..];
        }
    }
    let mut p = OpParser { toks: rest, pos: 0, depth: 0 };
    let cmds = p.commands(false)?;
    if p.pos != rest.len() {
        return err("unexpected \")\" in operand");
    }
    if cmds.is_empty() && !decl.is_empty() {
        return err("missing value for declaration");
    }
    Ok(Pipeline { decl, assign, cmds })
}

struct OpParser<'a> {
    toks: &'a [Tok],
    pos: usize,
    depth: usize,
}

impl OpParser<'_> {
    /// Commands up to the end (or a `)` when `nested`).
    fn commands(&mut self, nested: bool) -> Result<Vec<Vec<Operand>>, TemplateError> {
        let mut cmds = Vec::new();
        let mut cmd = Vec::new();
        while let Some(t) = self.toks.get(self.pos) {
            self.pos += 1;
            match t {
                Tok::Pipe => {
                    if cmd.is_empty() {
                        return err("missing command before |");
                    }
                    cmds.push(std::mem::take(&mut cmd));
                }
                Tok::RParen(_) if nested => {
                    self.pos -= 1;
                    break;
                }
                Tok::RParen(_) => return err("unexpected \")\""),
                Tok::LParen => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return err("parentheses nested too deep");
                    }
                    let inner = self.commands(true)?;
                    let Some(Tok::RParen(fields)) = self.toks.get(self.pos) else { return err("unclosed left paren") };
                    self.pos += 1;
                    self.depth -= 1;
                    if inner.is_empty() {
                        return err("missing value in parentheses");
                    }
                    let pipe = Pipeline { decl: Vec::new(), assign: false, cmds: inner };
                    cmd.push(Operand::Sub(Box::new(pipe), fields.clone()));
                }
                Tok::Field(f) => cmd.push(Operand::Field(f.clone())),
                Tok::Dot => cmd.push(Operand::Dot),
                Tok::Var(n, f) => cmd.push(Operand::Var(n.clone(), f.clone())),
                Tok::Str(s) => cmd.push(Operand::Lit(Value::String(s.clone()))),
                Tok::Num(n, text) => cmd.push(Operand::Lit(number(*n, text))),
                Tok::Ident(k) if k == "true" || k == "false" => cmd.push(Operand::Lit(Value::Bool(k == "true"))),
                Tok::Ident(k) if k == "nil" => cmd.push(Operand::Nil),
                Tok::Ident(k) if FUNCS.contains(&k.as_str()) => cmd.push(Operand::Func(k.clone())),
                Tok::Ident(k) => return err(format!("function {k:?} not defined")),
                Tok::Declare | Tok::Assign | Tok::Comma => return err("unexpected declaration"),
            }
        }
        if !cmd.is_empty() {
            cmds.push(cmd);
        } else if !cmds.is_empty() {
            return err("missing command after |");
        }
        Ok(cmds)
    }
}

fn number(n: f64, text: &str) -> Value {
    if n.fract() == 0.0 && !text.contains(['.', 'e', 'E']) && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// [`Template::mentions`] over `nodes`; `dot_root`: `.` may be the rendered object itself here.
fn mentions(nodes: &[Node], name: &str, dot_root: bool) -> bool {
    nodes.iter().any(|n| match n {
        Node::Text(_) => false,
        Node::Action(p) => pipe_mentions(p, name, dot_root),
        Node::If { pipe, then, otherwise } => {
            pipe_mentions(pipe, name, dot_root) || mentions(then, name, dot_root) || mentions(otherwise, name, dot_root)
        }
        Node::With { pipe, then: body, otherwise } | Node::Range { pipe, body, otherwise } => {
            // Inside, `.` is what the pipeline gave: the object itself only when that is a bare `.` or `$`.
            let inner_root = pipe.cmds.iter().flatten().any(|op| bare(op, dot_root));
            pipe_mentions(pipe, name, dot_root)
                || mentions(body, name, inner_root)
                || mentions(otherwise, name, dot_root)
        }
    })
}

/// A bare `.` (when it may be the object), `$` or variable: the whole object may be printed through it.
fn bare(op: &Operand, dot_root: bool) -> bool {
    match op {
        Operand::Dot => dot_root,
        Operand::Var(_, fields) => fields.is_empty(),
        _ => false,
    }
}

fn pipe_mentions(p: &Pipeline, name: &str, dot_root: bool) -> bool {
    p.cmds.iter().flatten().any(|op| match op {
        Operand::Field(fields) | Operand::Var(_, fields) if fields.iter().any(|f| f == name) => true,
        Operand::Lit(Value::String(s)) => s == name,
        Operand::Sub(inner, fields) => fields.iter().any(|f| f == name) || pipe_mentions(inner, name, dot_root),
        op => bare(op, dot_root),
    })
}

// ---------------------------------------------------------------------------------------------------------
// Execution.

struct State<'a> {
    vars: Vec<(String, Value)>,
    out: &'a mut String,
    /// Rendering the header row: a field the headers lack prints `<no value>`.
    header: bool,
}

impl State<'_> {
    fn walk(&mut self, nodes: &[Node], dot: &Value, dot_is_root: bool) -> Result<(), TemplateError> {
        for node in nodes {
            if self.out.len() > MAX_OUTPUT {
                return err(format!("output larger than {MAX_OUTPUT} bytes"));
            }
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot, dot_is_root)?;
                    if p.decl.is_empty() {
                        let text = print_value(&v);
                        self.out.push_str(&terminal_safe(&text));
                    }
                }
                Node::If { pipe, then, otherwise } => {
                    let mark = self.vars.len();
                    let v = self.pipeline(pipe, dot, dot_is_root)?;
                    let branch = if truthy(&v) { then } else { otherwise };
                    self.walk(branch, dot, dot_is_root)?;
                    self.vars.truncate(mark);
                }
                Node::With { pipe, then, otherwise } => {
                    let mark = self.vars.len();
                    let v = self.pipeline(pipe, dot, dot_is_root)?;
                    if truthy(&v) {
                        self.walk(then, &v, false)?;
                    } else {
                        self.walk(otherwise, dot, dot_is_root)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range { pipe, body, otherwise } => {
                    let mark = self.vars.len();
                    let decl = Pipeline { decl: Vec::new(), assign: false, cmds: pipe.cmds.clone() };
                    let v = self.pipeline(&decl, dot, dot_is_root)?;
                    let entries: Vec<(Value, Value)> = match v {
                        Value::Array(a) => a.into_iter().enumerate().map(|(i, v)| (Value::from(i), v)).collect(),
                        Value::Object(m) => {
                            let sorted: BTreeMap<String, Value> = m.into_iter().collect();
                            sorted.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
                        }
                        // nil, or a field missing deeper down (Go's zero value: an empty list)
                        Value::Null => Vec::new(),
                        Value::String(s) if s.is_empty() => Vec::new(),
                        other => return err(format!("range can't iterate over {}", print_value(&other))),
                    };
                    if entries.is_empty() {
                        self.walk(otherwise, dot, dot_is_root)?;
                    }
                    for (k, v) in entries {
                        let inner = self.vars.len();
                        match pipe.decl.as_slice() {
                            [] => {}
                            [one] => self.vars.push((one.clone(), v.clone())),
                            [key, val, ..] => {
                                self.vars.push((key.clone(), k));
                                self.vars.push((val.clone(), v.clone()));
                            }
                        }
                        self.walk(body, &v, false)?;
                        self.vars.truncate(inner);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value, dot_is_root: bool) -> Result<Value, TemplateError> {
        let mut value: Option<Value> = None;
        for cmd in &p.cmds {
            value = Some(self.command(cmd, dot, dot_is_root, value)?);
        }
        let v = value.unwrap_or(Value::Null);
        for name in &p.decl {
            if p.assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = v.clone(),
                    None => return err(format!("undefined variable: {name}")),
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn command(
        &mut self,
        cmd: &[Operand],
        dot: &Value,
        dot_is_root: bool,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        if let Operand::Func(name) = &cmd[0] {
            let mut args = Vec::with_capacity(cmd.len());
            for a in &cmd[1..] {
                args.push(self.operand(a, dot, dot_is_root)?);
            }
            args.extend(piped);
            return call(name, &args);
        }
        if cmd.len() > 1 || piped.is_some() {
            return err(format!("can't give argument to non-function {}", describe(&cmd[0])));
        }
        self.operand(&cmd[0], dot, dot_is_root)
    }

    fn operand(&mut self, op: &Operand, dot: &Value, dot_is_root: bool) -> Result<Value, TemplateError> {
        match op {
            Operand::Dot => Ok(dot.clone()),
            Operand::Lit(v) => Ok(v.clone()),
            Operand::Nil => err("nil is not a command"),
            Operand::Func(name) => call(name, &[]),
            Operand::Field(fields) => self.fields(dot, fields, dot_is_root),
            Operand::Var(name, fields) => {
                let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return err(format!("undefined variable: {name}"));
                };
                let v = v.clone();
                let strict = name == "$";
                self.fields(&v, fields, strict)
            }
            Operand::Sub(p, fields) => {
                let v = self.pipeline(p, dot, dot_is_root)?;
                self.fields(&v, fields, false)
            }
        }
    }

    /// `.A.B` on `v`; on the rendered object itself (`strict`), a missing field is an error.
    fn fields(&self, v: &Value, fields: &[String], strict: bool) -> Result<Value, TemplateError> {
        let mut cur = v.clone();
        for (i, f) in fields.iter().enumerate() {
            cur = match cur {
                Value::Object(mut m) => match m.remove(f) {
                    Some(x) => x,
                    None if self.header && i == 0 && strict => Value::String("<no value>".into()),
                    None if i == 0 && strict => return err(format!("can't evaluate field {f}")),
                    None => Value::String(String::new()),
                },
                Value::Null => Value::String(String::new()),
                other => return err(format!("can't evaluate field {f} in {}", kind(&other))),
            };
        }
        Ok(cur)
    }
}

fn describe(op: &Operand) -> String {
    match op {
        Operand::Field(f) => format!(".{}", f.join(".")),
        Operand::Var(n, f) if f.is_empty() => n.clone(),
        Operand::Var(n, f) => format!("{n}.{}", f.join(".")),
        Operand::Dot => ".".into(),
        Operand::Lit(v) => print_value(v),
        Operand::Nil => "nil".into(),
        Operand::Func(n) => n.clone(),
        Operand::Sub(..) => "(...)".into(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
    }
}

/// Go's `%v`.
fn print_value(v: &Value) -> String {
    let mut s = String::new();
    write_value(&mut s, v);
    s
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, x);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            let sorted: BTreeMap<&String, &Value> = m.iter().collect();
            for (i, (k, x)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_value(out, x);
            }
            out.push(']');
        }
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

fn want(name: &str, args: &[Value], n: usize) -> Result<(), TemplateError> {
    if args.len() != n {
        return err(format!("wrong number of args for {name}: want {n} got {}", args.len()));
    }
    Ok(())
}

fn string_arg(name: &str, v: &Value) -> Result<String, TemplateError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => err(format!("{name}: expected a string, got {}", kind(other))),
    }
}

fn int_arg(name: &str, v: &Value) -> Result<i64, TemplateError> {
    v.as_i64().ok_or_else(|| TemplateError(format!("{name}: expected an integer, got {}", print_value(v))))
}

fn compare(name: &str, a: &Value, b: &Value) -> Result<std::cmp::Ordering, TemplateError> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().partial_cmp(&y.as_f64()).ok_or_else(|| TemplateError(format!("{name}: incomparable numbers")))
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => err(format!("{name}: incompatible types for comparison")),
    }
}

fn call(name: &str, args: &[Value]) -> Result<Value, TemplateError> {
    use std::cmp::Ordering::*;
    let at_least = |n: usize| {
        if args.len() < n {
            return err(format!("wrong number of args for {name}: want at least {n} got {}", args.len()));
        }
        Ok(())
    };
    match name {
        "and" => {
            at_least(1)?;
            Ok(args.iter().find(|a| !truthy(a)).unwrap_or(&args[args.len() - 1]).clone())
        }
        "or" => {
            at_least(1)?;
            Ok(args.iter().find(|a| truthy(a)).unwrap_or(&args[args.len() - 1]).clone())
        }
        "not" => {
            want(name, args, 1)?;
            Ok(Value::Bool(!truthy(&args[0])))
        }
        "len" => {
            want(name, args, 1)?;
            match &args[0] {
                Value::String(s) => Ok(Value::from(s.len())),
                Value::Array(a) => Ok(Value::from(a.len())),
                Value::Object(m) => Ok(Value::from(m.len())),
                other => err(format!("len of {}", kind(other))),
            }
        }
        "index" => {
            at_least(1)?;
            let mut cur = args[0].clone();
            for k in &args[1..] {
                cur = match (cur, k) {
                    (Value::Array(a), k) => {
                        let i = int_arg(name, k)?;
                        let len = a.len();
                        usize::try_from(i).ok().and_then(|i| a.into_iter().nth(i)).ok_or_else(|| {
                            TemplateError(format!("error calling index: index out of range: {i} (length {len})"))
                        })?
                    }
                    (Value::Object(mut m), Value::String(s)) => m.remove(s).unwrap_or(Value::String(String::new())),
                    (Value::Null, _) => Value::String(String::new()),
                    (other, _) => {
                        return err(format!("error calling index: can't index item of type {}", kind(&other)));
                    }
                };
            }
            Ok(cur)
        }
        "print" | "println" => {
            let mut s = String::new();
            for (i, a) in args.iter().enumerate() {
                let string_pair = i > 0 && (matches!(a, Value::String(_)) || matches!(args[i - 1], Value::String(_)));
                if i > 0 && (name == "println" || !string_pair) {
                    s.push(' ');
                }
                write_value(&mut s, a);
            }
            if name == "println" {
                s.push('\n');
            }
            Ok(Value::String(s))
        }
        "printf" => {
            at_least(1)?;
            Ok(Value::String(printf(&string_arg(name, &args[0])?, &args[1..])))
        }
        "eq" => {
            at_least(2)?;
            let a = &args[0];
            Ok(Value::Bool(args[1..].iter().any(|b| compare(name, a, b).map(|o| o == Equal).unwrap_or(a == b))))
        }
        "ne" => {
            want(name, args, 2)?;
            Ok(Value::Bool(compare(name, &args[0], &args[1]).map(|o| o != Equal).unwrap_or(args[0] != args[1])))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(name, args, 2)?;
            let o = compare(name, &args[0], &args[1])?;
            Ok(Value::Bool(match name {
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        "json" => {
            want(name, args, 1)?;
            Ok(Value::String(serde_json::to_string(&args[0]).map_err(|e| TemplateError(format!("json: {e}")))?))
        }
        "lower" | "upper" | "title" => {
            want(name, args, 1)?;
            let s = string_arg(name, &args[0])?;
            Ok(Value::String(match name {
                "lower" => s.to_lowercase(),
                "upper" => s.to_uppercase(),
                _ => title(&s),
            }))
        }
        "join" => {
            want(name, args, 2)?;
            let sep = string_arg(name, &args[1])?;
            match &args[0] {
                Value::Array(a) => {
                    let parts: Vec<String> = a.iter().map(print_value).collect();
                    Ok(Value::String(parts.join(&sep)))
                }
                Value::Null => Ok(Value::String(String::new())),
                other => err(format!("join: expected an array, got {}", kind(other))),
            }
        }
        "split" => {
            want(name, args, 2)?;
            let (s, sep) = (string_arg(name, &args[0])?, string_arg(name, &args[1])?);
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep.as_str()).map(|p| Value::String(p.to_owned())).collect()
            };
            Ok(Value::Array(parts))
        }
        "truncate" => {
            want(name, args, 2)?;
            let s = string_arg(name, &args[0])?;
            let n = int_arg(name, &args[1])?.max(0) as usize;
            Ok(Value::String(s.chars().take(n).collect()))
        }
        other => err(format!("function {other:?} not defined")),
    }
}

/// Go's deprecated `strings.Title`: the first letter of each word upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric() && c != '_' && c != '\'';
    }
    out
}

/// `printf`'s subset: `%s %v %d %q %%`, a `-` flag and a width.
fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let left = chars.next_if_eq(&'-').is_some();
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = (width * 10 + d as usize).min(4096);
            chars.next();
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        let text = match verb {
            's' | 'v' => print_value(arg),
            'd' => match arg.as_i64() {
                Some(n) => n.to_string(),
                None => format!("%!d({})", print_value(arg)),
            },
            'q' => serde_json::to_string(&print_value(arg)).unwrap_or_default(),
            other => format!("%!{other}({})", print_value(arg)),
        };
        let pad = width.saturating_sub(text.chars().count());
        if left {
            out.push_str(&text);
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&text);
        }
    }
    for extra in args {
        let _ = write!(out, "%!(EXTRA {})", print_value(extra));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Template, headers, is_json};

    fn image() -> serde_json::Value {
        json!({
            "Id": "f3676645781614ba",
            "Digest": "sha256:d013",
            "RepoTags": ["localhost/foo:latest", "localhost/foo:v1"],
            "Config": {"Env": ["X=1"], "Cmd": ["/bin/sh", "-c", "echo hi"], "Labels": {"b": "2", "a": "b c=d"}},
            "Size": 11400,
            "GraphDriver": {"Name": "vfs", "Data": null},
        })
    }

    fn render(format: &str) -> String {
        Template::parse(format).unwrap().render(&image()).unwrap()
    }

    fn fails(format: &str) -> String {
        match Template::parse(format) {
            Err(e) => e.to_string(),
            Ok(t) => t.render(&image()).unwrap_err().to_string(),
        }
    }

    #[test]
    fn the_cases_podman_users_write() {
        assert_eq!(render("{{.Id}}"), "f3676645781614ba\n");
        assert_eq!(render("{{.Digest}}"), "sha256:d013\n");
        assert_eq!(render("{{.Config.Cmd}}"), "[/bin/sh -c echo hi]\n");
        assert_eq!(render("{{json .Config.Cmd}}"), "[\"/bin/sh\",\"-c\",\"echo hi\"]\n");
        assert_eq!(render(r#"{{index .Config.Labels "a"}}"#), "b c=d\n");
        assert_eq!(render(r#"{{index .Config.Labels "none"}}|"#), "|\n");
        assert_eq!(render("{{range .RepoTags}}[{{.}}]{{end}}"), "[localhost/foo:latest][localhost/foo:v1]\n");
        assert_eq!(render("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}"), "a=b c=d;b=2;\n");
        assert_eq!(render("{{.Config.Labels}}"), "map[a:b c=d b:2]\n");
        assert_eq!(render("{{.GraphDriver.Data}}"), "<nil>\n");
        assert_eq!(render("{{.Size}}"), "11400\n");
        assert_eq!(render(r"{{.Id}}\t{{.Size}}\n"), "f3676645781614ba\t11400\n");
        assert_eq!(render("{{.Config.WorkingDir}}|"), "|\n", "missing deeper down: Go's zero value");
    }

    #[test]
    fn control_flow_variables_and_functions() {
        assert_eq!(render("{{if .Config.Labels}}yes{{else}}no{{end}}"), "yes\n");
        assert_eq!(render("{{if eq .Size 1}}one{{else if gt .Size 100}}big{{else}}small{{end}}"), "big\n");
        assert_eq!(render("{{with .Config}}{{len .Env}}{{end}}"), "1\n");
        assert_eq!(render("{{range .Config.Entrypoint}}x{{else}}none{{end}}"), "none\n");
        assert_eq!(render("{{$n := len .RepoTags}}{{$n}}"), "2\n");
        assert_eq!(render("{{range .RepoTags}}{{$.Id}} {{end}}"), "f3676645781614ba f3676645781614ba \n");
        assert_eq!(render(r#"{{join .Config.Cmd ","}}"#), "/bin/sh,-c,echo hi\n");
        assert_eq!(render("{{.Digest | upper}}"), "SHA256:D013\n");
        assert_eq!(render("{{truncate .Id 4}}"), "f367\n");
        assert_eq!(render(r#"{{printf "%-6s|%3d" "ab" 7}}"#), "ab    |  7\n");
        assert_eq!(render(r#"{{(index .RepoTags 1)}}"#), "localhost/foo:v1\n");
        assert_eq!(render("{{(.Config).Cmd}}"), "[/bin/sh -c echo hi]\n");
        assert_eq!(render("  {{- .Size -}}  x"), "11400x\n");
        assert_eq!(render("{{/* a comment */}}x"), "x\n");
        assert_eq!(render(r#"{{ "}}" }}"#), "}}\n");
    }

    #[test]
    fn errors_are_one_line() {
        assert!(fails("{{.Nope}}").contains("can't evaluate field Nope"), "{}", fails("{{.Nope}}"));
        assert!(fails("{{.Id").contains("unclosed action"));
        assert!(fails("{{if .Id}}x").contains("without {{end}}"));
        assert!(fails("{{end}}").contains("unexpected {{end}}"));
        assert!(fails("{{nosuch .Id}}").contains("\"nosuch\" not defined"));
        assert!(fails("{{index .RepoTags 5}}").contains("out of range"));
        assert!(fails("{{template \"x\"}}").contains("not supported"));
        assert!(fails(&format!("{{{{{}}}}}", "(".repeat(500))).contains("too deep"));
        for f in ["{{.Nope}}", "{{.Id", "{{\"abc}}", "{{range 1.5}}{{end}}", "{{)}}", "{{|}}"] {
            let e = fails(f);
            assert!(e.starts_with("template: ") && !e.contains('\n'), "{f}: {e}");
        }
    }

    #[test]
    fn data_cannot_steer_the_terminal() {
        let t = Template::parse("{{.A}}").unwrap();
        assert_eq!(t.render(&json!({"A": "x\x1b]0;y\x07\nz"})).unwrap(), "x\\u{1b}]0;y\\u{7}\\nz\n");
    }

    #[test]
    fn table_adds_the_header_and_aligns() {
        let t = Template::parse(r"table {{.ID}}\t{{.CreatedBy}}\t{{.Size}}").unwrap();
        let rows = [
            json!({"ID": "abc", "CreatedBy": "a long command line", "Size": 1}),
            json!({"ID": "defghijklmnopq", "CreatedBy": "x", "Size": 22}),
        ];
        let h = headers(&["ID", "CreatedBy", "Size"], &[]);
        let out = t.render_rows(&rows, Some(&h)).unwrap();
        assert_eq!(
            out,
            "ID              CREATED BY           SIZE\nabc             a long command line  1\ndefghijklmnopq  x                    22\n"
        );
        let plain = Template::parse("{{.ID}}").unwrap().render_rows(&rows, Some(&h)).unwrap();
        assert_eq!(plain, "abc\ndefghijklmnopq\n");
        // A field the headers lack shows `<no value>` in the header, as podman's.
        let t = Template::parse(r"table {{.ID}}\t{{.Other}}").unwrap();
        let h = headers(&["ID"], &[("ID", "image id")]);
        let out = t.render_rows(&[json!({"ID": "a", "Other": "b"})], Some(&h)).unwrap();
        assert_eq!(out, "IMAGE ID    <no value>\na           b\n");
        // No header line when none is given (podman's inspect), the columns still aligned.
        assert_eq!(t.render_rows(&[json!({"ID": "a", "Other": "b"})], None).unwrap(), "a           b\n");
    }

    /// Every combination of three fragments (broken actions, unbalanced blocks, odd literals) parses or is
    /// refused, and renders or is refused, without a panic.
    #[test]
    fn garbage_never_panics() {
        let pieces = [
            "{{",
            "}}",
            "{{-",
            "-}}",
            ".",
            ".Id",
            "$",
            "$x := ",
            "(",
            ")",
            "|",
            "\"",
            "`",
            "range ",
            "if ",
            "else",
            "end",
            "with ",
            "index ",
            "printf \"%",
            "len ",
            "json ",
            " 1 ",
            "-1",
            "1.5e",
            "nil",
            ",",
            "=",
            "{{end}}",
            "{{else}}",
            "{{range .RepoTags}}",
            "{{if .Id}}",
            "$.Config.Labels",
            "/*",
            "*/",
            "x",
            "\t",
            "\n",
            "é",
        ];
        let data = image();
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let f = format!("{a}{b}{c}");
                    if let Ok(t) = Template::parse(&f) {
                        let _ = t.render(&data);
                        let _ = t.render_rows(std::slice::from_ref(&data), Some(&data));
                    }
                }
            }
        }
    }

    #[test]
    fn what_a_template_may_read() {
        let m = |f: &str| Template::parse(f).unwrap().mentions("Size");
        assert!(!m("{{.Id}} {{.Config.Cmd}}"));
        assert!(!m("{{range .RepoTags}}{{.}}{{end}}"));
        assert!(!m(r#"{{index .Config.Labels "k"}}"#));
        assert!(m("{{.Size}}") && m("{{.Id}} {{.VirtualSize}} {{.Size}}"));
        assert!(m("{{json .}}") && m("{{.}}") && m("{{$}}") && m(r#"{{index . "Size"}}"#));
        assert!(m("{{range .RepoTags}}{{$.Size}}{{end}}") && m("{{with .}}{{.Size}}{{end}}"));
        assert!(m("{{$x := .}}{{$x}}") && m("{{if .Id}}{{.Size}}{{end}}") && m("{{(.).Size}}"));
    }

    #[test]
    fn json_formats() {
        assert!(is_json("json") && is_json("JSON") && is_json("{{json .}}") && is_json("{{ json . }}"));
        assert!(!is_json("{{json .Config}}") && !is_json("text"));
        assert_eq!(render("text"), "text\n");
    }
}
