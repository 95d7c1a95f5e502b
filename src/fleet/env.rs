//! The environment of one instance, stored as what it inherits from clawherd plus its own
//! variables, so that a fleet of 1,000 instances keeps clawherd's environment once, not 1,000
//! times (docs/performance.md, "Daemon RSS, start-up and shutdown at 1,000: a third round").
//!
//! [`Env`] reads like one map: [`Env::get`] and [`Env::iter`] see the instance's own variables
//! over the inherited ones, in name order, as the child gets them. The inherited part is an
//! [`Arc`] taken from a process-wide pool ([`Env::inherit`]): every plan whose inherited
//! variables are equal shares one map. The pool holds weak references only and drops the dead
//! ones whenever it grows, so it never holds more maps than live plans use.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::sync::{Arc, Mutex, Weak};

/// A child's whole environment: the inherited variables (shared) and the instance's own
/// (which win over inherited ones of the same name). Compared, printed and iterated as the
/// merged map.
#[derive(Clone, Default)]
pub struct Env {
    inherited: Arc<BTreeMap<String, String>>,
    /// Sorted by name, each name once. A vector, not a `BTreeMap`: an instance has a handful
    /// of its own, and a map's first node holds room for 11 (544 bytes).
    own: Vec<(String, String)>,
}

/// The shared inherited maps ([`Env::inherit`]).
static POOL: Mutex<Vec<Weak<BTreeMap<String, String>>>> = Mutex::new(Vec::new());

impl Env {
    /// An environment that inherits the variables `vars` yields (name, value; in any order)
    /// and has none of its own yet. When a live environment inherits exactly the same
    /// variables, their map is shared instead of copied.
    pub fn inherit<'a>(vars: impl Iterator<Item = (&'a String, &'a String)>) -> Self {
        let mut vars: Vec<(&String, &String)> = vars.collect();
        vars.sort_unstable();
        vars.dedup_by(|a, b| a.0 == b.0);
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        let found = pool
            .iter()
            .filter_map(Weak::upgrade)
            .find(|m| m.len() == vars.len() && m.iter().eq(vars.iter().copied()));
        let inherited = match found {
            Some(m) => m,
            None => {
                let m: Arc<BTreeMap<String, String>> = Arc::new(vars.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect());
                pool.retain(|w| w.strong_count() > 0);
                pool.push(Arc::downgrade(&m));
                m
            }
        };
        Env {
            inherited,
            own: Vec::new(),
        }
    }

    /// The instance's own value of `name`.
    fn own(&self, name: &str) -> Option<&String> {
        let at = self.own.binary_search_by(|(k, _)| k.as_str().cmp(name)).ok()?;
        self.own.get(at).map(|(_, v)| v)
    }

    /// The value of `name`: the instance's own, else the inherited one.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.own(name).or_else(|| self.inherited.get(name))
    }

    /// Whether `name` is set.
    pub fn contains_key(&self, name: &str) -> bool {
        self.own(name).is_some() || self.inherited.contains_key(name)
    }

    /// Sets `name` for this instance only (over an inherited value of that name).
    pub fn insert(&mut self, name: String, value: String) {
        match self.own.binary_search_by(|(k, _)| k.cmp(&name)) {
            Ok(at) => {
                if let Some((_, v)) = self.own.get_mut(at) {
                    *v = value;
                }
            }
            Err(at) => {
                // Grown one at a time: a plan's few variables take no spare room.
                self.own.reserve_exact(1);
                self.own.insert(at, (name, value));
            }
        }
    }

    /// Every variable, in name order, each once (the instance's own value where both have it).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inherited: self.inherited.iter().peekable(),
            own: &self.own,
        }
    }

    /// The number of variables.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether no variable is set.
    pub fn is_empty(&self) -> bool {
        self.own.is_empty() && self.inherited.is_empty()
    }

    /// Whether `self` and `other` hold one shared copy of their inherited variables.
    pub fn shares_inherited_with(&self, other: &Env) -> bool {
        Arc::ptr_eq(&self.inherited, &other.inherited)
    }

    /// The merged map, as an owned copy.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl Extend<(String, String)> for Env {
    /// Sets each of `vars` as [`Env::insert`] does (a later value of a name wins), in
    /// O(n log n) whatever their order: a profile's `env:` may hold any number of variables.
    fn extend<T: IntoIterator<Item = (String, String)>>(&mut self, vars: T) {
        let before = self.own.len();
        self.own.extend(vars);
        if self.own.len() == before {
            return;
        }
        // A stable sort keeps the order of each name's values; reversed, the last one set
        // comes first in its run and is the one `dedup_by` keeps.
        self.own.sort_by(|a, b| a.0.cmp(&b.0));
        self.own.reverse();
        self.own.dedup_by(|later, kept| later.0 == kept.0);
        self.own.reverse();
        self.own.shrink_to_fit();
    }
}

/// An environment of exactly these variables, all the instance's own (tests, tools).
impl From<BTreeMap<String, String>> for Env {
    fn from(own: BTreeMap<String, String>) -> Self {
        Env {
            inherited: Arc::default(),
            own: own.into_iter().collect(),
        }
    }
}

impl<const N: usize> From<[(String, String); N]> for Env {
    fn from(vars: [(String, String); N]) -> Self {
        Env::from(BTreeMap::from(vars))
    }
}

impl FromIterator<(String, String)> for Env {
    fn from_iter<T: IntoIterator<Item = (String, String)>>(vars: T) -> Self {
        Env::from(vars.into_iter().collect::<BTreeMap<_, _>>())
    }
}

impl PartialEq for Env {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Env {}

/// Written as the merged map (`{"NAME": "value", ...}`), as the last-known-good records keep it.
impl serde::Serialize for Env {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// Read back from the merged map: every variable becomes the instance's own (a restored plan
/// does not share its inherited part with the live ones).
impl<'de> serde::Deserialize<'de> for Env {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer).map(Env::from)
    }
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Env {
    type Item = (&'a String, &'a String);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The variables of an [`Env`] in name order ([`Env::iter`]).
pub struct Iter<'a> {
    inherited: Peekable<std::collections::btree_map::Iter<'a, String, String>>,
    /// The own variables not yet returned.
    own: &'a [(String, String)],
}

impl<'a> Iter<'a> {
    /// The next own variable, taken.
    fn next_own(&mut self) -> Option<(&'a String, &'a String)> {
        let ((k, v), rest) = self.own.split_first()?;
        self.own = rest;
        Some((k, v))
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a String);

    fn next(&mut self) -> Option<Self::Item> {
        match (self.inherited.peek(), self.own.first()) {
            (Some((i, _)), Some((o, _))) => match i.as_str().cmp(o) {
                std::cmp::Ordering::Less => self.inherited.next(),
                std::cmp::Ordering::Equal => {
                    self.inherited.next();
                    self.next_own()
                }
                std::cmp::Ordering::Greater => self.next_own(),
            },
            (Some(_), None) => self.inherited.next(),
            (None, _) => self.next_own(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    /// Own variables win over inherited ones of the same name; iteration is the merged map in
    /// name order, each name once.
    #[test]
    fn own_over_inherited_in_name_order() {
        let parent = BTreeMap::from([s("A", "1"), s("HOME", "/root"), s("Z", "26")]);
        let mut env = Env::inherit(parent.iter());
        env.insert("HOME".into(), "/home/u".into());
        env.extend([s("B", "2"), s("ZZ", "x")]);
        let merged: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(
            merged,
            vec![s("A", "1"), s("B", "2"), s("HOME", "/home/u"), s("Z", "26"), s("ZZ", "x")]
        );
        assert_eq!(env.get("HOME").map(String::as_str), Some("/home/u"));
        assert_eq!(env.get("A").map(String::as_str), Some("1"));
        assert!(env.contains_key("Z") && !env.contains_key("Y"));
        assert_eq!(env.len(), 5);
        assert_eq!(env, Env::from(env.to_map()));
    }

    /// `extend` in any order: the last value set for a name wins, over the instance's own ones
    /// set before too, and the result is in name order, each name once; many variables (a
    /// profile's `env:` of any size) are sorted once, not shifted one insert at a time.
    #[test]
    fn extend_in_any_order_keeps_the_last_value_of_each_name() {
        let mut env = Env::default();
        env.insert("M".into(), "first".into());
        env.extend([s("Z", "1"), s("A", "1"), s("M", "second"), s("A", "2"), s("B", "1")]);
        env.extend([s("Z", "2")]);
        let own: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(own, vec![s("A", "2"), s("B", "1"), s("M", "second"), s("Z", "2")]);
        let mut many = Env::default();
        many.extend((0..200_000).rev().map(|i| (format!("V{i:06}"), i.to_string())));
        assert_eq!(many.len(), 200_000);
        assert_eq!(many.get("V000000").map(String::as_str), Some("0"));
        assert_eq!(many.iter().next().map(|(k, _)| k.as_str()), Some("V000000"));
    }

    /// Environments inheriting the same variables share one map; different ones do not.
    #[test]
    fn equal_inherited_maps_are_shared() {
        let parent = BTreeMap::from([s("SHARED_TEST_A", "1"), s("SHARED_TEST_B", "2")]);
        let a = Env::inherit(parent.iter());
        let b = Env::inherit(parent.iter().filter(|_| true));
        assert!(a.shares_inherited_with(&b));
        let c = Env::inherit(parent.iter().filter(|(k, _)| *k != "SHARED_TEST_B"));
        assert!(!a.shares_inherited_with(&c));
        assert_eq!(c.len(), 1);
    }
}
