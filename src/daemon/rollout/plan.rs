//! The order of a rollout, pure: which changed instance goes when, and which standby covers it.
//!
//! Rules (docs/rollout.md): changed instances are applied one at a time; standbys first (they
//! are the canaries: a change that breaks the standby never reaches main), then the others; a
//! changed instance that some standby stands by for is covered by that standby, which must be
//! ready before it is restarted (a cold standby is started for it). One at a time means the two
//! sides of a failover pair are never restarted at once.

/// One instance of the fleet as the order sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Profile name.
    pub name: String,
    /// The profile it stands by for, when it is a standby.
    pub standby_for: Option<String>,
    /// Whether it is a cold standby (runs only while it covers).
    pub cold: bool,
}

/// A standby that must be ready before its main is restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cover {
    /// The standby's profile name.
    pub standby: String,
    /// Whether it is cold (then the rollout starts it, and stops it again afterwards).
    pub cold: bool,
}

/// One step of a rollout: restart `name` with its change, covered by `cover` if set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    /// The changed profile.
    pub name: String,
    /// The standby covering it.
    pub cover: Option<Cover>,
}

/// The steps for `changed` (profile names) in `fleet` (every instance of the new fleet):
/// standbys first, then the others, each group in name order; names not in `fleet` are
/// skipped. A changed instance is covered by the first standby (in name order) that stands by
/// for it, unless that standby is itself `name`.
pub(crate) fn order(changed: &[String], fleet: &[Member]) -> Vec<Step> {
    let member = |n: &str| fleet.iter().find(|m| m.name == n);
    let mut names: Vec<&Member> = changed.iter().filter_map(|n| member(n)).collect();
    names.sort_by(|a, b| (a.standby_for.is_none(), &a.name).cmp(&(b.standby_for.is_none(), &b.name)));
    names.dedup_by(|a, b| a.name == b.name);
    names
        .into_iter()
        .map(|m| {
            let mut standbys: Vec<&Member> = fleet
                .iter()
                .filter(|s| s.standby_for.as_deref() == Some(m.name.as_str()) && s.name != m.name)
                .collect();
            standbys.sort_by(|a, b| a.name.cmp(&b.name));
            Step {
                name: m.name.clone(),
                cover: standbys.first().map(|s| Cover {
                    standby: s.name.clone(),
                    cold: s.cold,
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, standby_for: Option<&str>, cold: bool) -> Member {
        Member {
            name: name.into(),
            standby_for: standby_for.map(str::to_string),
            cold,
        }
    }

    fn names(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.name.as_str()).collect()
    }

    /// Standbys go first as canaries, then the others; each main is covered by its standby.
    #[test]
    fn standbys_first_and_main_covered() {
        let fleet = [m("main", None, false), m("rescue", Some("main"), true), m("other", None, false)];
        let changed: Vec<String> = ["other", "main", "rescue"].map(String::from).to_vec();
        let steps = order(&changed, &fleet);
        assert_eq!(names(&steps), ["rescue", "main", "other"]);
        assert_eq!(steps[0].cover, None);
        assert_eq!(
            steps[1].cover,
            Some(Cover {
                standby: "rescue".into(),
                cold: true
            })
        );
        assert_eq!(steps[2].cover, None);
    }

    /// A main changed alone is still covered by its (unchanged) hot standby; unknown and
    /// repeated names are skipped.
    #[test]
    fn main_alone_is_covered_and_unknown_names_are_skipped() {
        let fleet = [m("main", None, false), m("b", Some("main"), false), m("a", Some("main"), false)];
        let changed: Vec<String> = ["main", "gone", "main"].map(String::from).to_vec();
        let steps = order(&changed, &fleet);
        assert_eq!(names(&steps), ["main"]);
        assert_eq!(
            steps[0].cover,
            Some(Cover {
                standby: "a".into(),
                cold: false
            })
        );
    }

    /// One step per changed instance, so the two sides of a pair are never restarted at once;
    /// whatever the input order, the standby comes before the profile it covers.
    #[test]
    fn never_both_sides_at_once() {
        let fleet = [m("main", None, false), m("rescue", Some("main"), false)];
        for changed in [["main", "rescue"], ["rescue", "main"]] {
            let changed: Vec<String> = changed.map(String::from).to_vec();
            let steps = order(&changed, &fleet);
            assert_eq!(names(&steps), ["rescue", "main"]);
        }
    }
}
