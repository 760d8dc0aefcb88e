//! The JSON cosign signs: `{"critical":{"identity":{"docker-reference":..},"image":{"docker-manifest-digest":..},
//! "type":"cosign container image signature"},"optional":{..}}`, read as strictly as containers/image's
//! `signature/internal/sigstore_payload.go` (duplicate, unknown or missing keys in `critical` refused; trailing
//! data refused; `optional` may be `null`, its unknown keys ignored, `timestamp` an integer) and written as it
//! writes it (keys sorted, `creator` and `timestamp` in `optional`).

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::digest::Digest;

/// `critical.type` of every sigstore payload.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// A payload's contents, untrusted until a key has verified the bytes they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub manifest_digest: Digest,
    pub docker_reference: String,
    /// `optional.creator`: what made the signature (`hoist 0.1.0`, `containers/image 5.x`).
    pub creator: Option<String>,
    /// `optional.timestamp`: when, in seconds since the epoch.
    pub timestamp: Option<i64>,
}

impl Payload {
    /// A payload hoist signs now: the digest and reference, hoist's name and version, the time.
    pub fn new(manifest_digest: Digest, docker_reference: String) -> Payload {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Payload {
            manifest_digest,
            docker_reference,
            creator: Some(format!("hoist {}", env!("CARGO_PKG_VERSION"))),
            timestamp: Some(timestamp),
        }
    }

    /// Reads a payload exactly as containers/image does; the error says which key or value is wrong.
    pub fn parse(data: &[u8]) -> Result<Payload, String> {
        let top: Object = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        let [critical, optional] = top.exact(["critical", "optional"])?;

        let mut creator = None;
        let mut timestamp = None;
        // cosign writes `"optional": null` when there are no annotations.
        if optional.get() != "null" {
            let optional = Object::parse(optional)?;
            for (key, value) in &optional.0 {
                match key.as_str() {
                    "creator" => creator = Some(go_string(key, value)?),
                    "timestamp" => timestamp = Some(go_integer(key, value)?),
                    _ => {}
                }
            }
        }

        let critical = Object::parse(critical)?;
        let [kind, image, identity] = critical.exact(["type", "image", "identity"])?;
        let kind = go_string("type", kind)?;
        if kind != SIGNATURE_TYPE {
            return Err(format!("unrecognized signature type {kind:?}"));
        }
        let image = Object::parse(image)?;
        let [digest] = image.exact(["docker-manifest-digest"])?;
        let digest = go_string("docker-manifest-digest", digest)?;
        let manifest_digest =
            Digest::parse(&digest).map_err(|e| format!("invalid docker-manifest-digest value {digest:?}: {e}"))?;
        let identity = Object::parse(identity)?;
        let [reference] = identity.exact(["docker-reference"])?;
        let docker_reference = go_string("docker-reference", reference)?;
        Ok(Payload { manifest_digest, docker_reference, creator, timestamp })
    }

    /// The bytes to sign: the JSON containers/image writes (keys sorted, no spaces).
    pub fn to_json(&self) -> Vec<u8> {
        crate::trust::payload_json(
            SIGNATURE_TYPE,
            &self.docker_reference,
            &self.manifest_digest,
            self.creator.as_deref(),
            self.timestamp,
        )
    }
}

/// A JSON object's members in order, each value kept as raw text; a duplicate key is refused while reading
/// (as containers/image's `ParanoidUnmarshalJSONObject`).
struct Object(Vec<(String, Box<RawValue>)>);

impl Object {
    fn parse(raw: &RawValue) -> Result<Object, String> {
        serde_json::from_str(raw.get()).map_err(|e| e.to_string())
    }

    /// The values of exactly the keys `names`, in that order: an unknown key or a missing one is refused.
    fn exact<const N: usize>(&self, names: [&str; N]) -> Result<[&RawValue; N], String> {
        let mut found: [Option<&RawValue>; N] = [None; N];
        for (key, value) in &self.0 {
            match names.iter().position(|n| n == key) {
                Some(i) => found[i] = Some(value),
                None => return Err(format!("unknown key {key:?}")),
            }
        }
        let mut out = Vec::with_capacity(N);
        for (name, value) in names.iter().zip(found) {
            out.push(value.ok_or_else(|| format!("key {name:?} missing in a JSON object"))?);
        }
        out.try_into().map_err(|_| "internal error: field count".to_owned())
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                let mut members: Vec<(String, Box<RawValue>)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if members.iter().any(|(k, _)| *k == key) {
                        return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    let value: Box<RawValue> = map.next_value()?;
                    members.push((key, value));
                }
                Ok(Object(members))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// A string value as Go's `encoding/json` decodes one into a `string`: `null` leaves it empty.
fn go_string(key: &str, raw: &RawValue) -> Result<String, String> {
    serde_json::from_str::<Option<String>>(raw.get())
        .map(Option::unwrap_or_default)
        .map_err(|_| format!("field {key:?} is not a string"))
}

/// A number decoded as Go's `float64` and then required to be a whole number (containers/image refuses
/// fractional timestamps); `null` is 0, as Go leaves it.
fn go_integer(key: &str, raw: &RawValue) -> Result<i64, String> {
    let value = serde_json::from_str::<Option<f64>>(raw.get())
        .map_err(|_| format!("field {key:?} is not a number"))?
        .unwrap_or(0.0);
    // 2^63 as f64 is exactly representable; anything at or past it is out of range.
    if value.fract() != 0.0 || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&value) {
        return Err(format!("field optional.{key} is not an integer"));
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(value as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn doc(critical: &str, optional: &str) -> Vec<u8> {
        format!(r#"{{"critical":{critical},"optional":{optional}}}"#).into_bytes()
    }

    fn critical() -> String {
        format!(
            r#"{{"identity":{{"docker-reference":"example.com/a/b:v1"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"{SIGNATURE_TYPE}"}}"#
        )
    }

    #[test]
    fn writes_what_containers_image_writes_and_reads_it_back() {
        let p = Payload {
            manifest_digest: Digest::parse(DIGEST).unwrap(),
            docker_reference: "example.com/a/b:v1".into(),
            creator: Some("hoist 0.1.0".into()),
            timestamp: Some(1_700_000_000),
        };
        let json = String::from_utf8(p.to_json()).unwrap();
        assert_eq!(
            json,
            format!(r#"{{"critical":{},"optional":{{"creator":"hoist 0.1.0","timestamp":1700000000}}}}"#, critical())
        );
        assert_eq!(Payload::parse(json.as_bytes()).unwrap(), p);
    }

    #[test]
    fn cosign_null_optional_and_unknown_optional_keys_are_accepted() {
        let p = Payload::parse(&doc(&critical(), "null")).unwrap();
        assert_eq!(p.docker_reference, "example.com/a/b:v1");
        assert_eq!((p.creator, p.timestamp), (None, None));
        let p = Payload::parse(&doc(&critical(), r#"{"sig":"x","n":[1,{"a":2}],"timestamp":5.0}"#)).unwrap();
        assert_eq!(p.timestamp, Some(5));
    }

    #[test]
    fn anything_unexpected_in_critical_is_refused() {
        let c = critical();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (doc(&c.replacen('{', r#"{"extra":1,"#, 1), "null"), "unknown key \"extra\""),
            (doc(&c.replace(r#","type":"cosign container image signature""#, ""), "null"), "\"type\" missing"),
            (doc(&c.replace("cosign container image signature", "atomic container signature"), "null"), "type"),
            (doc(&c.replace(DIGEST, "sha256:abc"), "null"), "docker-manifest-digest"),
            (doc(&c.replace("\"example.com/a/b:v1\"", "7"), "null"), "not a string"),
            (
                doc(&c.replace(r#""docker-reference""#, r#""docker-reference":"x","docker-reference""#), "null"),
                "duplicate",
            ),
            (format!(r#"{{"critical":{c},"optional":null,"more":1}}"#).into_bytes(), "unknown key \"more\""),
            (format!(r#"{{"critical":{c}}}"#).into_bytes(), "\"optional\" missing"),
            (format!(r#"{{"critical":{c},"optional":null}} {{}}"#).into_bytes(), "trailing"),
            (doc(&c, r#"{"timestamp":1.5}"#), "not an integer"),
            (doc(&c, r#"{"timestamp":1e300}"#), "not an integer"),
            (doc(&c, r#"{"creator":1}"#), "not a string"),
            (doc(&c, r#"{"creator":"a","creator":"b"}"#), "duplicate"),
            (doc(&c, "[]"), "object"),
            (doc("[]", "null"), "object"),
            (b"[]".to_vec(), "object"),
            (b"".to_vec(), "EOF"),
        ];
        for (input, want) in cases {
            let err = Payload::parse(&input).expect_err(&String::from_utf8_lossy(&input));
            assert!(err.contains(want), "{err:?} should mention {want:?} for {}", String::from_utf8_lossy(&input));
        }
    }
}
