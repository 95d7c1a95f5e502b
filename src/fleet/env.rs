//! The environment of one instance, stored as what it inherits from clawherd plus its own
//! variables, so that a fleet of 1,000 instances keeps clawherd's environment once, not 1,000
//! times (docs/performance.md, "Daemon RSS, start-up and shutdown at 1,000: a third round").
//!
//! [`Env`] reads like one map: [`Env::get`] and [`Env::iter`] see the instance's own variables
//! over the inherited ones, in name order, as the child gets them. The inherited part is an
//! [`Arc`] taken from a process-wide pool ([`Env::inherit`]): every plan whose inherited
//! variables are equal shares one map. The pool holds weak references only and drops the dead
//! ones whenever it grows, so it never holds more maps than live plans use.
//!
//! The instance's own variables (a gateway has about ten, kept for the daemon's life) are two
//! allocations whatever their number: every name and value one after the other in one string,
//! and where each ends. A vector of `(String, String)` took one allocation per name and value
//! besides its own (19 for a gateway's 9).

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::sync::{Arc, Mutex, Weak};

/// A child's whole environment: the inherited variables (shared) and the instance's own
/// (which win over inherited ones of the same name). Compared, printed and iterated as the
/// merged map.
#[derive(Clone, Default)]
pub struct Env {
    inherited: Arc<BTreeMap<String, String>>,
    /// The instance's own variables, sorted by name, each name once.
    own: Own,
}

/// Variables in name order, each name once, packed: `text` holds name, value, name, value, ...
/// one after the other, and `ends[2i]` / `ends[2i + 1]` are the byte offsets in `text` where the
/// `i`th name / value ends (the name starts where the previous value ends, at 0 for the first).
/// Names and values may hold any character (`=` and NUL too): nothing in the text separates them.
#[derive(Clone, Default)]
struct Own {
    text: Box<str>,
    ends: Box<[usize]>,
}

impl Own {
    /// Packs `vars`, which must be in name order with each name once.
    fn pack<'a>(vars: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        let (mut bytes, mut count) = (0, 0);
        for (k, v) in vars.clone() {
            bytes += k.len() + v.len();
            count += 2;
        }
        let mut text = String::with_capacity(bytes);
        let mut ends = Vec::with_capacity(count);
        for (k, v) in vars {
            text.push_str(k);
            ends.push(text.len());
            text.push_str(v);
            ends.push(text.len());
        }
        Own {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        }
    }

    /// The number of variables.
    fn len(&self) -> usize {
        self.ends.len() / 2
    }

    /// The `i`th variable (name, value).
    fn at(&self, i: usize) -> Option<(&str, &str)> {
        let start = match i.checked_mul(2)?.checked_sub(1) {
            Some(prev) => *self.ends.get(prev)?,
            None => 0,
        };
        let (name_end, value_end) = (*self.ends.get(2 * i)?, *self.ends.get(2 * i + 1)?);
        Some((self.text.get(start..name_end)?, self.text.get(name_end..value_end)?))
    }

    /// Every variable, in name order.
    fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        (0..self.len()).filter_map(|i| self.at(i))
    }

    /// Where `name` is (`Ok`), or where it would go (`Err`).
    fn find(&self, name: &str) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.at(mid).map(|(k, _)| k.cmp(name)) {
                Some(std::cmp::Ordering::Less) => lo = mid + 1,
                Some(std::cmp::Ordering::Equal) => return Ok(mid),
                Some(std::cmp::Ordering::Greater) | None => hi = mid,
            }
        }
        Err(lo)
    }

    /// The value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.at(self.find(name).ok()?).map(|(_, v)| v)
    }
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
            own: Own::default(),
        }
    }

    /// The value of `name`: the instance's own, else the inherited one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.own.get(name).or_else(|| self.inherited.get(name).map(String::as_str))
    }

    /// Whether `name` is set.
    pub fn contains_key(&self, name: &str) -> bool {
        self.own.find(name).is_ok() || self.inherited.contains_key(name)
    }

    /// Sets `name` for this instance only (over an inherited value of that name), as
    /// [`Extend`] does for one variable: the instance's own variables are repacked (use
    /// `extend` for many at once).
    pub fn insert(&mut self, name: String, value: String) {
        self.extend([(name, value)]);
    }

    /// Every variable, in name order, each once (the instance's own value where both have it).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inherited: self.inherited.iter().peekable(),
            own: &self.own,
            next: 0,
        }
    }

    /// The number of variables.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether no variable is set.
    pub fn is_empty(&self) -> bool {
        self.own.len() == 0 && self.inherited.is_empty()
    }

    /// Whether `self` and `other` hold one shared copy of their inherited variables.
    pub fn shares_inherited_with(&self, other: &Env) -> bool {
        Arc::ptr_eq(&self.inherited, &other.inherited)
    }

    /// The merged map, as an owned copy.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
}

impl Extend<(String, String)> for Env {
    /// Sets each of `vars` as [`Env::insert`] does (a later value of a name wins), in
    /// O(n log n) whatever their order: a profile's `env:` may hold any number of variables.
    fn extend<T: IntoIterator<Item = (String, String)>>(&mut self, vars: T) {
        let new: Vec<(String, String)> = vars.into_iter().collect();
        if new.is_empty() {
            return;
        }
        let mut all: Vec<(&str, &str)> = self.own.iter().collect();
        all.extend(new.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        // A stable sort keeps the order of each name's values; reversed, the last one set
        // comes first in its run and is the one `dedup_by` keeps.
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.reverse();
        all.dedup_by(|later, kept| later.0 == kept.0);
        all.reverse();
        self.own = Own::pack(all.iter().copied());
    }
}

/// An environment of exactly these variables, all the instance's own (tests, tools).
impl From<BTreeMap<String, String>> for Env {
    fn from(own: BTreeMap<String, String>) -> Self {
        Env {
            inherited: Arc::default(),
            own: Own::pack(own.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
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
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The variables of an [`Env`] in name order ([`Env::iter`]).
pub struct Iter<'a> {
    inherited: Peekable<std::collections::btree_map::Iter<'a, String, String>>,
    own: &'a Own,
    /// The index of the next own variable not yet returned.
    next: usize,
}

impl<'a> Iter<'a> {
    /// The next own variable, not taken.
    fn peek_own(&self) -> Option<(&'a str, &'a str)> {
        self.own.at(self.next)
    }

    /// The next own variable, taken.
    fn next_own(&mut self) -> Option<(&'a str, &'a str)> {
        let var = self.peek_own()?;
        self.next += 1;
        Some(var)
    }

    /// The next inherited variable, taken.
    fn next_inherited(&mut self) -> Option<(&'a str, &'a str)> {
        self.inherited.next().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let own = self.peek_own();
        match (self.inherited.peek(), own) {
            (Some((i, _)), Some((o, _))) => match i.as_str().cmp(o) {
                std::cmp::Ordering::Less => self.next_inherited(),
                std::cmp::Ordering::Equal => {
                    self.inherited.next();
                    self.next_own()
                }
                std::cmp::Ordering::Greater => self.next_own(),
            },
            (Some(_), None) => self.next_inherited(),
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
        let merged: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(
            merged,
            vec![s("A", "1"), s("B", "2"), s("HOME", "/home/u"), s("Z", "26"), s("ZZ", "x")]
        );
        assert_eq!(env.get("HOME"), Some("/home/u"));
        assert_eq!(env.get("A"), Some("1"));
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
        let own: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(own, vec![s("A", "2"), s("B", "1"), s("M", "second"), s("Z", "2")]);
        let mut many = Env::default();
        many.extend((0..200_000).rev().map(|i| (format!("V{i:06}"), i.to_string())));
        assert_eq!(many.len(), 200_000);
        assert_eq!(many.get("V000000"), Some("0"));
        assert_eq!(many.iter().next().map(|(k, _)| k), Some("V000000"));
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

    /// Names and values holding `=`, NUL or nothing at all come back as they went in: the packed
    /// own variables separate them by offsets, not by a character.
    #[test]
    fn own_variables_of_any_text_round_trip() {
        let vars = [s("", "empty name"), s("A=B", "x=y"), s("N\0UL", "v\0al"), s("Z", ""), s("é", "ü")];
        let env = Env::from(vars.clone());
        let back: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(back, vars.to_vec());
        for (k, v) in &vars {
            assert_eq!(env.get(k), Some(v.as_str()), "{k:?}");
        }
        assert_eq!(env.get("A"), None);
        let mut grown = Env::default();
        for (k, v) in vars.iter().rev() {
            grown.insert(k.clone(), v.clone());
        }
        grown.insert("A=B".into(), "replaced".into());
        assert_eq!(grown.get("A=B"), Some("replaced"));
        assert_eq!(grown.len(), vars.len());
    }
}
