//! A namespace: its connected sockets and their rooms.

use std::collections::HashMap;
use std::sync::Arc;

use crate::adapter::local::Rooms;

use super::client::Client;
use super::Id;

#[derive(Default)]
pub struct Namespace {
    sockets: HashMap<Id, Arc<Client>>,
    pub rooms: Rooms,
}

impl Namespace {
    /// Adds a socket; it is in the room named by its own id from the start.
    pub fn add(&mut self, sid: Id, client: Arc<Client>) {
        self.rooms.add_all(&sid, [sid.clone()]);
        self.sockets.insert(sid, client);
    }

    pub fn remove(&mut self, sid: &str) {
        self.rooms.del_all(sid);
        self.sockets.remove(sid);
    }

    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    pub fn contains(&self, sid: &str) -> bool {
        self.sockets.contains_key(sid)
    }

    /// The sockets a broadcast reaches, with their clients.
    pub fn recipients(&self, rooms: &[String], except: &[String]) -> Vec<(Id, Arc<Client>)> {
        if rooms.is_empty() && except.is_empty() {
            // Everyone: no need to look each socket up again by its id.
            return self
                .sockets
                .iter()
                .map(|(sid, client)| (sid.clone(), client.clone()))
                .collect();
        }
        self.rooms
            .recipients(rooms, except)
            .into_iter()
            .filter_map(|sid| Some((sid.clone(), self.sockets.get(sid)?.clone())))
            .collect()
    }

    /// `{"room":["sid",…],…}` for `nsp.adapter.rooms`.
    pub fn rooms_json(&self) -> String {
        let map: HashMap<&str, Vec<&str>> = self
            .rooms
            .iter()
            .map(|(room, members)| (room.as_ref(), members.iter().map(AsRef::as_ref).collect()))
            .collect();
        serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
    }
}
