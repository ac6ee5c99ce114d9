//! The TOML config file: its settings, and how each aliased key was spelled there
//! so that errors name the setting as the operator wrote it.

use super::{ConfigError, Settings};
use std::collections::BTreeMap;
use std::path::Path;

/// A parsed config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// The settings the file gives.
    pub settings: Settings,
    /// Setting name → the alias the file used for it (only where it used one).
    written_as: BTreeMap<&'static str, String>,
}

impl ConfigFile {
    /// Reads and parses a TOML config file; unknown keys are errors naming the key.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("", format!("cannot read {}: {e}", path.display())))?;
        ConfigFile::parse(&text).map_err(|e| {
            ConfigError::new(
                "",
                format!("{}: {}", path.display(), e.to_string().trim_end()),
            )
        })
    }

    /// Parses the text of a config file.
    pub fn parse(text: &str) -> Result<ConfigFile, toml::de::Error> {
        let settings: Settings = toml::from_str(text)?;
        // The aliases live in serde's attributes on `Settings` alone: a key that is
        // no setting's name but was accepted is an alias, and deserializing it on
        // its own tells which setting it fills.
        let table: toml::Table = toml::from_str(text)?;
        let mut written_as = BTreeMap::new();
        for (key, value) in table {
            if Settings::KEYS.contains(&key.as_str()) {
                continue;
            }
            let alone: Settings = toml::Table::from_iter([(key.clone(), value)]).try_into()?;
            if let Some(name) = alone.given().first() {
                written_as.insert(*name, key);
            }
        }
        Ok(ConfigFile {
            settings,
            written_as,
        })
    }

    /// `e`, naming its setting as this file spells it.
    pub fn as_written(&self, mut e: ConfigError) -> ConfigError {
        if let Some(alias) = self.written_as.get(e.field.as_str()) {
            e.field.clone_from(alias);
        }
        e
    }
}
