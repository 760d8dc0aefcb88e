//! Byte-level compatibility with the Go helpers: how they read stdin and how `encoding/json` writes and
//! decodes. Everything here mirrors an observed behaviour of docker-credential-helpers 0.6.4 (see
//! docs/protocol.md); where we differ on purpose, the function says so.

use std::fmt::{self, Write as _};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{Credentials, Error, Secret};

/// Joins stdin as Go's `bufio.Scanner` with `ScanLines` does before decoding: every line terminator (`\n`,
/// optionally preceded by `\r`) is dropped and the lines are concatenated.
pub(crate) fn join_lines(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for line in input.split(|&b| b == b'\n') {
        out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
    }
    out
}

/// Decodes a `store` request as Go's `json.Decoder.Decode(&creds)` does: the first JSON value only (trailing
/// data is ignored), field names matched case-insensitively, later duplicates win, `null` leaves a field
/// alone, and a type mismatch is reported with Go's own text after the whole value was read.
///
/// Deliberate difference: a syntax error is reported by position, never by quoting the offending character
/// (Go says `invalid character 'x' ...`), because the input may hold a secret.
pub(crate) fn decode_credentials(input: &str) -> Result<Credentials, Error> {
    let mut de = serde_json::Deserializer::from_str(input);
    let mut decoded = GoCredentials::default();
    match (&mut de).deserialize_any(CredentialsVisitor(&mut decoded)) {
        Ok(()) => {}
        Err(e) => return Err(syntax_error(input, &e)),
    }
    if let Some(type_error) = decoded.type_error {
        return Err(Error::Input(type_error));
    }
    Ok(Credentials { server_url: decoded.server_url, username: decoded.username, secret: Secret::new(decoded.secret) })
}

fn syntax_error(input: &str, e: &serde_json::Error) -> Error {
    if e.is_eof() {
        // Go: io.EOF for no value at all, io.ErrUnexpectedEOF for a value cut short.
        if input.trim_start_matches([' ', '\t', '\n', '\r']).is_empty() {
            return Error::Input("EOF".into());
        }
        return Error::Input("unexpected EOF".into());
    }
    Error::Input(format!("invalid JSON input: syntax error at line {} column {}", e.line(), e.column()))
}

#[derive(Default)]
struct GoCredentials {
    server_url: String,
    username: String,
    secret: String,
    type_error: Option<String>,
}

impl GoCredentials {
    fn note_type_error(&mut self, text: String) {
        self.type_error.get_or_insert(text);
    }
}

struct CredentialsVisitor<'a>(&'a mut GoCredentials);

impl CredentialsVisitor<'_> {
    fn top_level(self, go_type: &str) {
        self.0
            .note_type_error(format!("json: cannot unmarshal {go_type} into Go value of type credentials.Credentials"));
    }
}

impl<'de> Visitor<'de> for CredentialsVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let field = ["ServerURL", "Username", "Secret"].into_iter().find(|f| f.eq_ignore_ascii_case(&key));
            let Some(field) = field else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            match map.next_value::<GoValue>()? {
                GoValue::Null => {}
                GoValue::Str(s) => {
                    let slot = match field {
                        "ServerURL" => &mut self.0.server_url,
                        "Username" => &mut self.0.username,
                        _ => &mut self.0.secret,
                    };
                    // Overwrite through zeroize so a replaced secret does not linger.
                    zeroize::Zeroize::zeroize(slot);
                    *slot = s;
                }
                GoValue::Other(go_type) => self.0.note_type_error(format!(
                    "json: cannot unmarshal {go_type} into Go struct field Credentials.{field} of type string"
                )),
            }
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        {
            self.top_level("bool");
            Ok(())
        }
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        {
            self.top_level("number");
            Ok(())
        }
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        {
            self.top_level("number");
            Ok(())
        }
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        {
            self.top_level("number");
            Ok(())
        }
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        {
            self.top_level("string");
            Ok(())
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        {
            self.top_level("array");
            Ok(())
        }
    }
}

/// A field value as Go sees it when decoding into a string field.
enum GoValue {
    Null,
    Str(String),
    Other(&'static str),
}

impl<'de> de::Deserialize<'de> for GoValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GoValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<GoValue, E> {
                Ok(GoValue::Null)
            }
            fn visit_none<E>(self) -> Result<GoValue, E> {
                Ok(GoValue::Null)
            }
            fn visit_str<E>(self, s: &str) -> Result<GoValue, E> {
                Ok(GoValue::Str(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<GoValue, E> {
                Ok(GoValue::Str(s))
            }
            fn visit_bool<E>(self, _: bool) -> Result<GoValue, E> {
                Ok(GoValue::Other("bool"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<GoValue, E> {
                Ok(GoValue::Other("number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<GoValue, E> {
                Ok(GoValue::Other("number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<GoValue, E> {
                Ok(GoValue::Other("number"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GoValue, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(GoValue::Other("array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GoValue, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(GoValue::Other("object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Appends `s` as a JSON string the way Go's `encoding/json` writes it by default (HTML-safe): `<`, `>`, `&`,
/// U+2028 and U+2029 as `\u` escapes, control characters as `\u00xx` except `\n`, `\r`, `\t`.
pub(crate) fn push_go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `{"ServerURL":..,"Username":..,"Secret":..}` plus a newline, byte for byte as Go's `json.Encoder`.
pub(crate) fn encode_credentials(out: &mut String, server_url: &str, username: &str, secret: &str) {
    out.push_str("{\"ServerURL\":");
    push_go_string(out, server_url);
    out.push_str(",\"Username\":");
    push_go_string(out, username);
    out.push_str(",\"Secret\":");
    push_go_string(out, secret);
    out.push_str("}\n");
}

/// `{"server":"username",...}` plus a newline, keys sorted by bytes as Go sorts map keys.
pub(crate) fn encode_list<'a>(out: &mut String, entries: impl IntoIterator<Item = (&'a String, &'a String)>) {
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_go_string(out, k);
        out.push(':');
        push_go_string(out, v);
    }
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<Credentials, Error> {
        decode_credentials(s)
    }

    #[test]
    fn go_line_joining() {
        assert_eq!(join_lines(b"a\r\nb\nc\r"), b"abc");
        assert_eq!(join_lines(b"a\rb"), b"a\rb");
        assert_eq!(join_lines(b""), b"");
    }

    #[test]
    fn decodes_like_go() {
        let c = decode(r#"{"serverurl":"a","USERNAME":"u","Secret":"s","ServerURL":"b"} trailing"#).unwrap();
        assert_eq!((c.server_url.as_str(), c.username.as_str(), c.secret.expose()), ("b", "u", "s"));
        let c = decode(r#"{"ServerURL":"a","Username":"u","Secret":null}"#).unwrap();
        assert!(c.secret.is_empty());
        let c = decode("null").unwrap();
        assert!(c.server_url.is_empty());
    }

    #[test]
    fn go_error_texts() {
        let e = |s: &str| decode(s).unwrap_err().to_string();
        assert_eq!(e(""), "EOF");
        assert_eq!(e("   "), "EOF");
        assert_eq!(e(r#"{"ServerURL":"x""#), "unexpected EOF");
        assert_eq!(e("[1]"), "json: cannot unmarshal array into Go value of type credentials.Credentials");
        assert_eq!(e("true"), "json: cannot unmarshal bool into Go value of type credentials.Credentials");
        assert_eq!(e("5"), "json: cannot unmarshal number into Go value of type credentials.Credentials");
        assert_eq!(e(r#""x""#), "json: cannot unmarshal string into Go value of type credentials.Credentials");
        assert_eq!(
            e(r#"{"ServerURL":5,"Username":[1]}"#),
            "json: cannot unmarshal number into Go struct field Credentials.ServerURL of type string"
        );
        assert_eq!(
            e(r#"{"ServerURL":"x","Username":"u","Secret":{"a":1}}"#),
            "json: cannot unmarshal object into Go struct field Credentials.Secret of type string"
        );
    }

    #[test]
    fn syntax_errors_never_quote_input() {
        let err = decode(r#"{"ServerURL":"x","Secret":"canary-SECRET" oops}"#).unwrap_err().to_string();
        assert!(!err.contains("canary") && !err.contains("oops"), "{err}");
        assert!(err.starts_with("invalid JSON input: syntax error at line 1 column"), "{err}");
    }

    #[test]
    fn encodes_like_go() {
        let mut out = String::new();
        encode_credentials(&mut out, "q8", "u\u{8}\u{c}\u{1}\u{7f}\u{1f}<>&", "/x\u{2029}😀\"\\\n");
        assert_eq!(
            out,
            "{\"ServerURL\":\"q8\",\"Username\":\"u\\u0008\\u000c\\u0001\u{7f}\\u001f\\u003c\\u003e\\u0026\",\
             \"Secret\":\"/x\\u2029😀\\\"\\\\\\n\"}\n"
        );
        let mut out = String::new();
        let (a, b) = ("a".to_string(), "<token>".to_string());
        encode_list(&mut out, [(&a, &b)]);
        assert_eq!(out, "{\"a\":\"\\u003ctoken\\u003e\"}\n");
        let mut out = String::new();
        encode_list(&mut out, std::iter::empty());
        assert_eq!(out, "{}\n");
    }
}
