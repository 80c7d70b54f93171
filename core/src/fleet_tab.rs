//! The fleet tab: devices opened together in one new tab, `fleet (N)`, one pane per device and
//! Zellij's synchronized input on, so that what is typed once reaches every device. The plugin
//! asks napsh for each device's mapping first; this tracks the answers and says when the tab
//! can open and with which panes (a device that failed gets the guide instead of a pane).

use crate::sanitize::pane_title;
use std::collections::BTreeMap;

/// One device's pane in the fleet tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPane {
    /// The device's SIM id.
    pub sim_id: String,
    /// Its pane title, already inert ([`pane_title`]).
    pub title: String,
}

/// A fleet tab ready to open: its name and its panes, in the order the devices were chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyFleet {
    /// `fleet (N)`, N the number of panes.
    pub name: String,
    /// One pane per device that answered with a mapping.
    pub panes: Vec<FleetPane>,
}

/// A fleet waiting for its devices' connect answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFleet {
    /// SIM ids in the order chosen.
    order: Vec<String>,
    /// SIM id → `Some(title)` once it connected, `None` once it failed; absent while waiting.
    answers: BTreeMap<String, Option<String>>,
}

/// The tab's name for `panes` devices.
pub fn tab_name(panes: usize) -> String {
    format!("fleet ({panes})")
}

impl PendingFleet {
    /// A fleet of `sim_ids` (duplicates kept once), every answer outstanding.
    pub fn new(sim_ids: &[String]) -> Self {
        let mut order: Vec<String> = Vec::with_capacity(sim_ids.len());
        for sim in sim_ids {
            if !order.contains(sim) {
                order.push(sim.clone());
            }
        }
        PendingFleet {
            order,
            answers: BTreeMap::new(),
        }
    }

    /// Whether `sim_id` is one of this fleet's devices and has not answered yet.
    pub fn awaits(&self, sim_id: &str) -> bool {
        self.order.iter().any(|s| s == sim_id) && !self.answers.contains_key(sim_id)
    }

    /// Records `sim_id`'s answer: connected, its pane named after `label`, or failed (`None`).
    /// Returns the tab once every device answered and at least one connected.
    pub fn answer(&mut self, sim_id: &str, label: Option<&str>) -> Option<ReadyFleet> {
        if self.awaits(sim_id) {
            self.answers
                .insert(sim_id.to_string(), label.map(pane_title));
        }
        self.ready()
    }

    /// Whether every device answered.
    pub fn complete(&self) -> bool {
        self.answers.len() == self.order.len()
    }

    /// The tab, when complete and not empty.
    fn ready(&self) -> Option<ReadyFleet> {
        if !self.complete() {
            return None;
        }
        let panes: Vec<FleetPane> = self
            .order
            .iter()
            .filter_map(|sim| {
                let title = self.answers.get(sim)?.clone()?;
                Some(FleetPane {
                    sim_id: sim.clone(),
                    title,
                })
            })
            .collect();
        (!panes.is_empty()).then(|| ReadyFleet {
            name: tab_name(panes.len()),
            panes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sims(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn opens_once_every_device_answered_in_the_chosen_order() {
        let mut fleet = PendingFleet::new(&sims(&["a", "b", "c"]));
        assert!(fleet.answer("c", Some("gamma")).is_none());
        assert!(fleet.answer("a", Some("alpha")).is_none());
        assert!(fleet.awaits("b") && !fleet.awaits("a") && !fleet.awaits("zz"));
        let ready = fleet.answer("b", Some("beta")).expect("complete");
        assert_eq!(ready.name, "fleet (3)");
        let titles: Vec<&str> = ready.panes.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["alpha", "beta", "gamma"]);
        assert_eq!(ready.panes[1].sim_id, "b");
    }

    #[test]
    fn a_failed_device_is_left_out_and_counted_out_of_the_name() {
        let mut fleet = PendingFleet::new(&sims(&["a", "b", "c"]));
        fleet.answer("a", Some("alpha"));
        fleet.answer("b", None);
        let ready = fleet.answer("c", Some("gamma")).expect("complete");
        assert_eq!(ready.name, "fleet (2)");
        assert_eq!(ready.panes.len(), 2);
    }

    #[test]
    fn nothing_opens_when_every_device_failed() {
        let mut fleet = PendingFleet::new(&sims(&["a", "b"]));
        fleet.answer("a", None);
        assert!(fleet.answer("b", None).is_none());
        assert!(fleet.complete());
    }

    #[test]
    fn a_second_answer_and_duplicates_change_nothing() {
        let mut fleet = PendingFleet::new(&sims(&["a", "a"]));
        let ready = fleet.answer("a", Some("alpha")).expect("one device");
        assert_eq!(ready.name, "fleet (1)");
        assert_eq!(fleet.answer("a", None), Some(ready));
    }

    #[test]
    fn titles_are_inert() {
        let mut fleet = PendingFleet::new(&sims(&["a"]));
        let ready = fleet.answer("a", Some("evil\x1b[31mred")).unwrap();
        assert_eq!(ready.panes[0].title, pane_title("evil\x1b[31mred"));
        assert!(!ready.panes[0].title.contains('\x1b'));
    }
}
