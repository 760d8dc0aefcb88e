//! The image config a build edits: the fields instructions set are typed (`Env`, `Labels`, `ExposedPorts`,
//! `Volumes`, `OnBuild`, `Healthcheck`, the history, the rootfs, ...), everything else is kept as the base
//! image had it, and the config is written back with its keys in the order podman's tests compare
//! (sorted, as serde_json writes a map), so a field no instruction touched keeps its bytes.
//!
//! A field a base gives with another type than the one hoist edits (`"Labels": "x"`, an `Env` holding a
//! number) or as `null` is kept verbatim until an instruction sets it; then it starts empty, as buildah's
//! would.
//!
//! What it is not: the config's reader for other commands (`image::ImageConfig`), or what instructions
//! mean (`stage`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// podman's `PATH` for images whose base sets none.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One field of a config as read: absent, `null`, a value of the type hoist edits, or anything else (kept
/// as it was).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Set(T),
    Other(Value),
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    /// The value, when the field holds one of its type.
    pub fn get(&self) -> Option<&T> {
        match self {
            Field::Set(v) => Some(v),
            _ => None,
        }
    }

    /// The value to change: the field's own, or an empty one in place of anything else.
    pub fn edit(&mut self) -> &mut T
    where
        T: Default,
    {
        if !matches!(self, Field::Set(_)) {
            *self = Field::Set(T::default());
        }
        match self {
            Field::Set(v) => v,
            _ => unreachable!("just set"),
        }
    }

    pub fn set(&mut self, value: T) {
        *self = Field::Set(value);
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Absent | Field::Null => s.serialize_none(),
            Field::Set(v) => v.serialize(s),
            Field::Other(v) => v.serialize(s),
        }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Field<T>, D::Error> {
        let value = Value::deserialize(d)?;
        if value.is_null() {
            return Ok(Field::Null);
        }
        Ok(match T::deserialize(&value) {
            Ok(v) => Field::Set(v),
            Err(_) => Field::Other(value),
        })
    }
}

/// The `{}` an exposed port or a volume maps to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// An image config (the OCI image spec's, as docker and podman write it).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub architecture: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub os: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub variant: Field<String>,
    /// `MAINTAINER`.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub author: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub created: Field<String>,
    /// What a container of the image runs with.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub config: Field<ContainerConfig>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub rootfs: Field<RootFs>,
    /// The base's entries as they were, then one per instruction.
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub history: Field<Vec<Value>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// The container config (`config.config`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ContainerConfig {
    #[serde(rename = "Env", default, skip_serializing_if = "Field::is_absent")]
    pub env: Field<Vec<String>>,
    #[serde(rename = "Labels", default, skip_serializing_if = "Field::is_absent")]
    pub labels: Field<BTreeMap<String, String>>,
    #[serde(rename = "User", default, skip_serializing_if = "Field::is_absent")]
    pub user: Field<String>,
    #[serde(rename = "ExposedPorts", default, skip_serializing_if = "Field::is_absent")]
    pub exposed_ports: Field<BTreeMap<String, Empty>>,
    #[serde(rename = "Volumes", default, skip_serializing_if = "Field::is_absent")]
    pub volumes: Field<BTreeMap<String, Empty>>,
    #[serde(rename = "StopSignal", default, skip_serializing_if = "Field::is_absent")]
    pub stop_signal: Field<String>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Field::is_absent")]
    pub cmd: Field<Vec<String>>,
    #[serde(rename = "Entrypoint", default, skip_serializing_if = "Field::is_absent")]
    pub entrypoint: Field<Vec<String>>,
    #[serde(rename = "Shell", default, skip_serializing_if = "Field::is_absent")]
    pub shell: Field<Vec<String>>,
    #[serde(rename = "Healthcheck", default, skip_serializing_if = "Field::is_absent")]
    pub healthcheck: Field<Healthcheck>,
    #[serde(rename = "OnBuild", default, skip_serializing_if = "Field::is_absent")]
    pub on_build: Field<Vec<String>>,
    #[serde(rename = "WorkingDir", default, skip_serializing_if = "Field::is_absent")]
    pub working_dir: Field<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `HEALTHCHECK`, as docker records it: durations in nanoseconds, zeros left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    #[serde(rename = "Test")]
    pub test: Vec<String>,
    #[serde(rename = "Interval", default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    #[serde(rename = "Timeout", default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<i64>,
    #[serde(rename = "StartInterval", default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<i64>,
    #[serde(rename = "Retries", default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
}

/// The layers' diff IDs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default, skip_serializing_if = "Field::is_absent")]
    pub kind: Field<String>,
    #[serde(default, skip_serializing_if = "Field::is_absent")]
    pub diff_ids: Field<Vec<String>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// One history entry hoist adds.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub created: String,
    pub created_by: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

impl Config {
    /// The config of a JSON object (`None` for anything else).
    pub fn from_value(value: Value) -> Option<Config> {
        if !value.is_object() {
            return None;
        }
        serde_json::from_value(value).ok()
    }

    /// The config as podman writes it: compact JSON, keys sorted.
    pub fn to_bytes(&self) -> Vec<u8> {
        let value = serde_json::to_value(self).expect("a config is JSON");
        serde_json::to_vec(&value).expect("JSON values serialize")
    }

    /// The container config to change, made if missing.
    pub fn container(&mut self) -> &mut ContainerConfig {
        self.config.edit()
    }

    /// The container config's `Env`, as `KEY=value` strings.
    pub fn env(&self) -> &[String] {
        self.config.get().and_then(|c| c.env.get()).map_or(&[], Vec::as_slice)
    }

    /// A string field of the container config (`WorkingDir`, `User`): empty when unset.
    pub fn working_dir(&self) -> &str {
        self.config.get().and_then(|c| c.working_dir.get()).map_or("", String::as_str)
    }

    pub fn user(&self) -> &str {
        self.config.get().and_then(|c| c.user.get()).map_or("", String::as_str)
    }

    /// The shell for shell forms: the config's `Shell`, else `/bin/sh -c`.
    pub fn shell(&self) -> Vec<String> {
        self.config
            .get()
            .and_then(|c| c.shell.get())
            .filter(|s| !s.is_empty())
            .cloned()
            .unwrap_or_else(|| vec!["/bin/sh".to_owned(), "-c".to_owned()])
    }

    /// Gives the config podman's default `PATH` when its `Env` sets none.
    pub fn set_default_path(&mut self) {
        let env = self.container().env.edit();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, DEFAULT_PATH.to_owned());
        }
    }

    /// Takes the `OnBuild` triggers out (a stage runs its base's, and they are not inherited further).
    pub fn take_triggers(&mut self) -> Vec<String> {
        match std::mem::take(&mut self.container().on_build) {
            Field::Set(list) => list,
            _ => Vec::new(),
        }
    }

    /// Adds a history entry.
    pub fn push_history(&mut self, entry: History) {
        self.history.edit().push(serde_json::to_value(entry).expect("a history entry is JSON"));
    }

    /// Adds a layer's diff ID to `rootfs`.
    pub fn push_diff_id(&mut self, diff_id: String) {
        let rootfs = self.rootfs.edit();
        rootfs.kind.set("layers".to_owned());
        rootfs.diff_ids.edit().push(diff_id);
    }
}

impl ContainerConfig {
    /// Sets `key=value` in `Env`; returns the length of the value it replaced, if any.
    pub fn set_env(&mut self, key: &str, value: &str) -> Option<usize> {
        let list = self.env.edit();
        let entry = format!("{key}={value}");
        match list.iter().position(|e| e.split_once('=').is_some_and(|(k, _)| k == key)) {
            Some(i) => {
                let old = list[i].len() - key.len() - 1;
                list[i] = entry;
                Some(old)
            }
            None => {
                list.push(entry);
                None
            }
        }
    }

    /// Sets label `key`; returns the JSON length of the value it replaced, if any.
    pub fn set_label(&mut self, key: String, value: String) -> Option<usize> {
        let old = self.labels.edit().insert(key, value);
        old.map(|o| Value::String(o).to_string().len())
    }

    /// Adds `key` (`80/tcp`) to `ExposedPorts`; false when it was there already.
    pub fn expose(&mut self, key: String) -> bool {
        self.exposed_ports.edit().insert(key, Empty {}).is_none()
    }

    /// Adds `path` to `Volumes`; false when it was there already.
    pub fn add_volume(&mut self, path: String) -> bool {
        self.volumes.edit().insert(path, Empty {}).is_none()
    }

    /// Adds an `ONBUILD` trigger.
    pub fn push_trigger(&mut self, instruction: String) {
        self.on_build.edit().push(instruction);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A config no instruction changed reads back to the same bytes, whatever odd values it has.
    #[test]
    fn untouched_fields_keep_their_bytes() {
        let raw = json!({
            "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00.5Z", "zzz": [1, 2.5, null],
            "config": {"Env": ["A=1"], "Labels": null, "OnBuild": null, "Entrypoint": null, "Volumes": {"/v": {}},
                       "ExposedPorts": {"80/tcp": {"odd": 1}}, "Healthcheck": {"Test": ["NONE"], "Extra": true},
                       "User": 5, "ArgsEscaped": true, "Custom": {"b": 1, "a": 2}},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:x"], "more": 1},
            "history": [{"created_by": "x", "empty_layer": false, "comment": null}],
        });
        let config = Config::from_value(raw.clone()).unwrap();
        assert_eq!(config.to_bytes(), serde_json::to_vec(&raw).unwrap());
        let c = config.config.get().unwrap();
        assert_eq!(c.labels, Field::Null);
        assert!(matches!(c.exposed_ports, Field::Other(_)), "an odd value is kept as it was");
        assert!(matches!(c.user, Field::Other(_)));
        assert!(Config::from_value(json!([1])).is_none());
    }

    #[test]
    fn edits_replace_odd_values_and_keep_the_rest() {
        let mut config = Config::from_value(json!({"config": {"Labels": "x", "Env": ["PATH=/x", "A=1"]}})).unwrap();
        let c = config.container();
        assert_eq!(c.set_label("k".into(), "v\"".into()), None);
        assert_eq!(c.set_label("k".into(), "w".into()), Some(5));
        assert_eq!(c.set_env("A", "22"), Some(1));
        assert_eq!(c.set_env("B", "3"), None);
        assert!(c.expose("80/tcp".into()) && !c.expose("80/tcp".into()));
        config.set_default_path();
        config.push_diff_id("sha256:y".into());
        config.push_history(History { created: "t".into(), created_by: "b".into(), empty_layer: true });
        let written: Value = serde_json::from_slice(&config.to_bytes()).unwrap();
        assert_eq!(
            written,
            json!({"config": {"Labels": {"k": "w"}, "Env": ["PATH=/x", "A=22", "B=3"], "ExposedPorts": {"80/tcp": {}}},
                   "rootfs": {"type": "layers", "diff_ids": ["sha256:y"]},
                   "history": [{"created": "t", "created_by": "b", "empty_layer": true}]})
        );
    }
}
