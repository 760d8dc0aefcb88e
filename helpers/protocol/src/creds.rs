//! Credentials and the secret type that keeps passwords out of logs and wipes them from memory.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

/// A password or token. Its memory is wiped on drop, and `Debug` never shows it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The secret itself. Call only where it must leave the program (the `get` answer, a store's file).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

/// One credential as the protocol carries it (`{"ServerURL":..,"Username":..,"Secret":..}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(rename = "ServerURL")]
    pub server_url: String,
    #[serde(rename = "Username")]
    pub username: String,
    #[serde(rename = "Secret")]
    pub secret: Secret,
}

impl Credentials {
    pub fn new(server_url: impl Into<String>, username: impl Into<String>, secret: impl Into<Secret>) -> Self {
        Credentials { server_url: server_url.into(), username: username.into(), secret: secret.into() }
    }

    /// True when the secret is an identity token (Username `<token>`), not a password.
    pub fn is_identity_token(&self) -> bool {
        self.username == crate::IDENTITY_TOKEN_USERNAME
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credentials::new("r.example", "u", "hunter2-canary");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2-canary"), "{shown}");
        assert!(shown.contains("r.example"));
    }
}
