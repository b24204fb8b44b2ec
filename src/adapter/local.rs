//! The in-memory room table of one namespace: room → socket ids, and socket id → rooms.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub type Id = Arc<str>;

#[derive(Default)]
pub struct Rooms {
    members: HashMap<Id, HashSet<Id>>,
    joined: HashMap<Id, HashSet<Id>>,
}

impl Rooms {
    pub fn add_all(&mut self, sid: &Id, rooms: impl IntoIterator<Item = Id>) {
        let joined = self.joined.entry(sid.clone()).or_default();
        for room in rooms {
            joined.insert(room.clone());
            self.members.entry(room).or_default().insert(sid.clone());
        }
    }

    pub fn del(&mut self, sid: &str, room: &str) {
        if let Some(joined) = self.joined.get_mut(sid) {
            joined.remove(room);
        }
        self.remove_member(room, sid);
    }

    pub fn del_all(&mut self, sid: &str) {
        if let Some(joined) = self.joined.remove(sid) {
            for room in joined {
                self.remove_member(&room, sid);
            }
        }
    }

    fn remove_member(&mut self, room: &str, sid: &str) {
        if let Some(members) = self.members.get_mut(room) {
            members.remove(sid);
            if members.is_empty() {
                self.members.remove(room);
            }
        }
    }

    pub fn has_room(&self, room: &str) -> bool {
        self.members.contains_key(room)
    }

    pub fn socket_rooms(&self, sid: &str) -> impl Iterator<Item = &Id> {
        self.joined.get(sid).into_iter().flatten()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Id, &HashSet<Id>)> {
        self.members.iter()
    }

    /// Socket ids in any of `rooms` (every socket when `rooms` is empty) and in none of `except`.
    pub fn recipients<'a>(&'a self, rooms: &[String], except: &[String]) -> Vec<&'a Id> {
        // The common cases need no de-duplication: everyone, or the members of one room.
        if except.is_empty() {
            match rooms {
                [] => return self.joined.keys().collect(),
                [room] => {
                    return self
                        .members
                        .get(room.as_str())
                        .map(|members| members.iter().collect())
                        .unwrap_or_default()
                }
                _ => {}
            }
        }
        let excluded: HashSet<&Id> = except
            .iter()
            .filter_map(|room| self.members.get(room.as_str()))
            .flatten()
            .collect();
        let mut seen = HashSet::new();
        let candidates: Box<dyn Iterator<Item = &Id>> = if rooms.is_empty() {
            Box::new(self.joined.keys())
        } else {
            Box::new(
                rooms
                    .iter()
                    .filter_map(|room| self.members.get(room.as_str()))
                    .flatten(),
            )
        };
        candidates
            .filter(|sid| !excluded.contains(sid) && seen.insert(*sid))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Id {
        Arc::from(s)
    }

    fn sorted(v: Vec<&Id>) -> Vec<String> {
        let mut v: Vec<String> = v.into_iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn unions_rooms_and_removes_excepted() {
        let mut rooms = Rooms::default();
        rooms.add_all(&id("a"), [id("a"), id("r1")]);
        rooms.add_all(&id("b"), [id("b"), id("r1"), id("r2")]);
        rooms.add_all(&id("c"), [id("c"), id("r2")]);
        assert_eq!(
            sorted(rooms.recipients(&["r1".into(), "r2".into()], &[])),
            ["a", "b", "c"]
        );
        assert_eq!(
            sorted(rooms.recipients(&["r1".into()], &["b".into()])),
            ["a"]
        );
        assert_eq!(sorted(rooms.recipients(&[], &["r2".into()])), ["a"]);
        assert_eq!(
            sorted(rooms.recipients(&["nope".into()], &[])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn leaving_cleans_up_empty_rooms() {
        let mut rooms = Rooms::default();
        rooms.add_all(&id("a"), [id("a"), id("r1")]);
        rooms.del("a", "r1");
        assert!(rooms.iter().all(|(room, _)| room.as_ref() != "r1"));
        rooms.del_all("a");
        assert_eq!(rooms.iter().count(), 0);
        assert_eq!(rooms.socket_rooms("a").count(), 0);
    }
}
