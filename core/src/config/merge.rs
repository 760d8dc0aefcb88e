//! Folding parsed files into one [`Config`], in the order they are read: a `[[registry]]` replaces an
//! earlier one with the same prefix, a later file's `unqualified-search-registries`, `credential-helpers` and
//! `short-name-mode` win only when it sets them, and `[aliases]` merge key by key. Then the defaults
//! (`credential-helpers` = the auth files) and the prefix order.
//!
//! What it is not: reading or validating a file (`schema`) or deciding which files to read (`paths`).

use std::path::Path;

use super::schema::{FileConfig, parse_file};
use super::{AUTH_FILE_HELPER, Alias, Config, ConfigError};

impl Config {
    /// Parses `text`, the contents of `path` (a drop-in when `dropin`), and merges it over what is there.
    pub(super) fn add_file(&mut self, path: &Path, text: &str, dropin: bool) -> Result<(), ConfigError> {
        let file = parse_file(path, text, dropin, &mut self.warnings)?;
        self.sources.push(path.to_owned());
        self.merge(file, path);
        Ok(())
    }

    fn merge(&mut self, file: FileConfig, origin: &Path) {
        for r in file.registries {
            match self.registries.iter_mut().find(|e| e.prefix == r.prefix) {
                Some(existing) => *existing = r,
                None => self.registries.push(r),
            }
        }
        if let Some(s) = file.unqualified_search_registries {
            self.unqualified_search_registries = s;
            self.unqualified_search_origin = Some(origin.to_owned());
        }
        if let Some(h) = file.credential_helpers {
            self.credential_helpers = h;
        }
        if let Some(m) = file.short_name_mode {
            self.short_name_mode = m;
        }
        for (k, v) in file.aliases {
            self.aliases.insert(k, Alias { value: v, origin: origin.to_owned() });
        }
    }

    /// After the last file: the default credential helper list, and registries sorted by prefix.
    pub(super) fn finish(&mut self) {
        if self.credential_helpers.is_empty() {
            self.credential_helpers = vec![AUTH_FILE_HELPER.to_owned()];
        }
        self.registries.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    }
}
