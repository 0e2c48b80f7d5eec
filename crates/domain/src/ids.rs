//! Distinct id types, so a `HouseholdId` is never passed as a `ResidentId`.
//!
//! Every row lives in one street; its key is `(street, id)`. Ids are shown to
//! users and clients as `"{street}-{id}"`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub i64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "{}", self.0) }
        }
    )*};
}

id_type!(
    CityId,
    DistrictId,
    StreetId,
    CommunityId,
    GridId,
    CompoundId,
    BuildingId,
    UnitId,
    HouseholdId,
    ResidentId
);

/// A row's key within the city: the street (the shard key) and the row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub street: i64,
    pub id: i64,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.street, self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a key (expected STREET-ID, e.g. 1-42): {0}")]
pub struct KeyError(pub String);

impl FromStr for Key {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s.split_once('-').ok_or_else(|| KeyError(s.to_string()))?;
        let street = a.parse().map_err(|_| KeyError(s.to_string()))?;
        let id = b.parse().map_err(|_| KeyError(s.to_string()))?;
        Ok(Key { street, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn key_round_trips_and_rejects_garbage() {
        let k: Key = "3-1042".parse().unwrap();
        assert_eq!(
            k,
            Key {
                street: 3,
                id: 1042
            }
        );
        assert_eq!(k.to_string(), "3-1042");
        assert!("3".parse::<Key>().is_err());
        assert!("a-1".parse::<Key>().is_err());
        assert!("1-".parse::<Key>().is_err());
    }
}
